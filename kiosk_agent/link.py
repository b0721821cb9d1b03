"""The agent's link to the cloud while it is provisioned: the client and the services that
use it (uploader, heartbeats, members, voice sessions), the cloud's commands, and waiting
for a new identity when the kiosk is not (or no longer) provisioned."""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Protocol

from contract.kiosk_api import CommandKind, KioskCommand, KioskConfig
from kiosk_agent.adapters.clock import now
from kiosk_agent.adapters.cloud import CloudClient, Credentials
from kiosk_agent.adapters.cloud_errors import CloudError
from kiosk_agent.adapters.identity import (
    IdentityError,
    KioskIdentity,
    load_identity,
    retire_identity,
    save_identity,
)
from kiosk_agent.adapters.store_worker import StoreWorker
from kiosk_agent.config import KioskSettings
from kiosk_agent.core.conversation import ConversationFactory, no_conversation_factory
from kiosk_agent.core.heartbeat import DeviceFigures, SystemFigures
from kiosk_agent.core.machine import AgentState, Input, ProvisioningChanged
from kiosk_agent.screen.feed import ScreenFeed
from kiosk_agent.services.heartbeat import HeartbeatService
from kiosk_agent.services.hooks import AgentHooks
from kiosk_agent.services.members import MemberDirectory
from kiosk_agent.services.sessions import SessionRunner
from kiosk_agent.services.uploader import Uploader
from kiosk_agent.tasks import stop_tasks

logger = logging.getLogger(__name__)

IDENTITY_POLL_S = 2.0
REALTIME_MODULE = "kiosk_agent.adapters.realtime"


def load_conversation_factory(settings: KioskSettings) -> ConversationFactory:
    """The voice conversation from ``kiosk_agent.adapters.realtime``, or an honest stand-in
    that records sessions as failed with the reason, when it is missing or broken."""
    try:
        module = importlib.import_module(REALTIME_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name == REALTIME_MODULE:
            logger.error("no voice conversation is installed: sessions will be recorded as failed")
            return no_conversation_factory()
        reason = f"the voice conversation cannot be loaded ({exc})"
    except Exception as exc:
        reason = f"the voice conversation cannot be loaded ({type(exc).__name__}: {exc})"
    else:
        build = getattr(module, "conversation_factory", None)
        if build is None:
            reason = f"{REALTIME_MODULE} has no conversation_factory(settings)"
        else:
            try:
                factory: ConversationFactory = build(settings)
            except Exception as exc:
                reason = f"the voice conversation could not be set up ({exc})"
            else:
                return factory
    logger.error("%s: sessions will be recorded as failed", reason)
    return no_conversation_factory(f"{reason}; update or repair the kiosk software")


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


class LinkedAgent(AgentHooks, Protocol):
    """What the cloud link asks of the agent that owns it (besides the hooks every service
    uses): feeding its state machine, running tasks, and the figures a heartbeat reports."""

    @property
    def state(self) -> AgentState: ...

    def feed(self, event: Input) -> None: ...

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]: ...

    def device_figures(self) -> DeviceFigures: ...

    def system_figures(self) -> SystemFigures: ...

    def last_error(self) -> str | None: ...

    async def apply_config(self, config: KioskConfig) -> None:
        """The cloud's desired config, for the state machine and the conversations."""

    @property
    def screen(self) -> ScreenFeed:
        """What the kiosk's screen shows."""
        ...


class CloudLink:
    def __init__(
        self,
        agent: LinkedAgent,
        settings: KioskSettings,
        store: StoreWorker,
        conversation_factory: ConversationFactory,
    ) -> None:
        self._agent = agent
        self._settings = settings
        self._store = store
        self._conversation_factory = conversation_factory
        self.identity: KioskIdentity | None = None
        self.client: CloudClient | None = None
        self.uploader: Uploader | None = None
        self.heartbeat: HeartbeatService | None = None
        self.members: MemberDirectory | None = None
        self.runner: SessionRunner | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._watcher: asyncio.Task[None] | None = None
        self._refused_mtime: int | None = None

    async def load_identity(self) -> KioskIdentity | None:
        try:
            return await asyncio.to_thread(load_identity, self._settings.identity_path)
        except IdentityError as exc:
            logger.error("%s", exc)
            self._agent.error(str(exc))
            return None

    async def connect(self, identity: KioskIdentity) -> None:
        settings, agent, store = self._settings, self._agent, self._store
        url = settings.cloud.url or identity.cloud_url
        client = CloudClient(
            url,
            settings.cloud,
            credentials=Credentials(identity.kiosk_id, identity.credential.get_secret_value()),
            on_new_credential=self._save_credential,
        )
        self.identity, self.client = identity, client
        self.uploader = Uploader(store, client, settings.outbox, agent)
        self.heartbeat = HeartbeatService(
            settings,
            store,
            client,
            agent,
            state=lambda: agent.state,
            devices=agent.device_figures,
            last_error=agent.last_error,
            system=agent.system_figures,
            on_config=self.apply_config,
            on_command=self.run_command,
        )
        self.members = MemberDirectory(
            store,
            client,
            agent,
            lookup_timeout_s=settings.cloud.member_lookup_timeout_s,
            sync_interval_s=settings.member_sync.interval_s,
            cache_first=settings.session.cache_first,
        )
        self.runner = SessionRunner(
            client,
            self._conversation_factory,
            agent,
            feed=agent.feed,
            now=now,
            voice_start_timeout_s=settings.cloud.voice_start_timeout_s,
            end_grace_s=settings.session.end_grace_s,
            progress=lambda event: agent.screen.conversation(event.kind, event.detail),
        )
        # Before the first tap: audio devices, a warm connection.
        agent.spawn(self._conversation_factory.attach_cloud(client), "voice preparation")
        self._tasks = [
            agent.spawn(self.uploader.run(), "outbox uploader"),
            agent.spawn(self.heartbeat.run(), "heartbeat"),
            agent.spawn(self.members.run(), "member sync"),
        ]
        logger.info("this is %s, reporting to %s", identity.describe(), url)
        agent.screen.identity({"kiosk": identity.kiosk_name, "gym": identity.gym_name})
        agent.feed(ProvisioningChanged(now(), provisioned=True))

    def wake_uploader(self) -> None:
        if self.uploader is not None:
            self.uploader.wake()

    async def disconnect(self, reason: str, *, retire: bool) -> None:
        """Stop talking to the cloud (credential refused, or re-provisioning asked for)."""
        if self.client is None:
            return
        logger.error("%s", reason)
        self._agent.error(reason)
        await self._stop_services()
        path = self._settings.identity_path
        if retire:
            await asyncio.to_thread(retire_identity, path, reason)
        self._refused_mtime = _mtime(path)
        self._agent.screen.identity(None)
        self._agent.feed(ProvisioningChanged(now(), provisioned=False))
        self.watch_for_identity()

    def watch_for_identity(self) -> None:
        """Wait for ``jarvis-kiosk provision`` to write a (new) identity, then connect."""
        if self._watcher is None or self._watcher.done():
            self._watcher = self._agent.spawn(self._watch(), "waiting for provisioning")

    async def _watch(self) -> None:
        path = self._settings.identity_path
        while True:
            await asyncio.sleep(IDENTITY_POLL_S)
            mtime = _mtime(path)
            if mtime is None or mtime == self._refused_mtime:
                continue
            identity = await self.load_identity()
            if identity is None:
                self._refused_mtime = mtime
                continue
            logger.info("provisioned: connecting to the cloud")
            await self.connect(identity)
            return

    async def apply_config(self, config: KioskConfig) -> None:
        await self._agent.apply_config(config)
        local = self._settings
        if self.heartbeat and "interval_s" not in local.heartbeat.model_fields_set:
            self.heartbeat.set_interval(config.heartbeat_interval_s)
        if self.members and "interval_s" not in local.member_sync.model_fields_set:
            self.members.sync_interval_s = config.member_sync_interval_s
        if self.uploader and "batch_size" not in local.outbox.model_fields_set:
            self.uploader.set_session_batch(config.upload_batch_size)

    async def run_command(self, command: KioskCommand) -> None:
        if command.kind is CommandKind.ROTATE_CREDENTIAL:
            if self.client is None:
                return
            try:
                rotated = await self.client.rotate_credential()
            except CloudError as exc:
                logger.error("credential rotation failed: %s", exc)
                self._agent.error(f"credential rotation failed: {exc}")
                return
            logger.info(
                "credential rotated; the old one stays valid until %s",
                rotated.old_credential_valid_until.isoformat(),
            )
        elif command.kind is CommandKind.REPROVISION:
            why = f": {command.reason}" if command.reason else ""
            self._agent.spawn(
                self.disconnect(
                    f"the cloud asked for this kiosk to be provisioned again{why}; run "
                    "`jarvis-kiosk provision` with a new code",
                    retire=True,
                ),
                "re-provisioning",
            )

    async def _save_credential(self, credential: str) -> None:
        assert self.identity is not None
        renewed = self.identity.with_credential(credential)
        await asyncio.to_thread(save_identity, self._settings.identity_path, renewed)
        self.identity = renewed

    async def _stop_services(self) -> None:
        current = asyncio.current_task()
        await stop_tasks([t for t in self._tasks if t is not current], logger)
        self._tasks = []
        await self._conversation_factory.attach_cloud(None)
        client, self.client = self.client, None
        if client is not None:
            await client.aclose()
        self.uploader = self.heartbeat = self.members = None

    async def close(self) -> None:
        if self._watcher is not None:
            await stop_tasks([self._watcher], logger)
        await self._stop_services()
