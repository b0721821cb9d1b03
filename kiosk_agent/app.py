"""The composition root: builds the kiosk agent from settings and runs it until stopped.

One asyncio task drives the state machine (``core.machine``): it takes inputs from a queue,
one at a time, and carries out the effects in order. Everything that waits (the badge
reader, cloud calls, the conversation, speech) runs in its own task and answers the machine
through the same queue. Records the machine asks to keep are written to the store before
the driver moves on, then the uploader is woken: write first, upload after.

Nothing here crash-loops: a store that cannot be written puts the kiosk out of service
(and keeps the records in memory until it can write them), a reader whose device goes away
is reopened by its own supervision loop (one whose settings cannot work is reported in every
heartbeat), a refused credential sends the kiosk back to "unprovisioned" until
``jarvis-kiosk provision`` writes a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from contract.kiosk_api import EventKind, KioskConfig, KioskEvent
from kiosk_agent import __version__
from kiosk_agent.adapters.announcer import Announcer
from kiosk_agent.adapters.clock import now
from kiosk_agent.adapters.store import KioskStore
from kiosk_agent.adapters.store_base import StoreError
from kiosk_agent.adapters.store_worker import StoreWorker
from kiosk_agent.adapters.system import system_figures
from kiosk_agent.adapters.systemd import SystemdNotifier
from kiosk_agent.config import KioskSettings
from kiosk_agent.core.conversation import ConversationFactory
from kiosk_agent.core.heartbeat import DeviceFigures, SystemFigures
from kiosk_agent.core.machine import (
    AgentStarted,
    AgentState,
    Announce,
    BadgeTapped,
    CloudReachable,
    CloudUnreachable,
    ConfigApplied,
    Effect,
    EndConversation,
    Input,
    KioskMachine,
    LookupMember,
    MemberChecked,
    MemberSource,
    RecordEvent,
    RecordSession,
    ShutdownRequested,
    StartConversation,
    StartVoice,
    StateChanged,
    Stopped,
    Tick,
    VoiceStartFailed,
)
from kiosk_agent.link import CloudLink, load_conversation_factory
from kiosk_agent.readers import READER_REPORT_KEY, BadgeLoop
from kiosk_agent.records import RecordKeeper, microphone_evidence
from kiosk_agent.screen.feed import ScreenFeed
from kiosk_agent.screen.model import ScreenModel
from kiosk_agent.screen.server import ScreenServer
from kiosk_agent.tasks import stop_tasks

logger = logging.getLogger(__name__)

TICK_S = 1.0
SHUTDOWN_GRACE_S = 20.0


class KioskAgent:
    """``await KioskAgent(settings).run()`` is ``jarvis-kiosk run``."""

    def __init__(
        self,
        settings: KioskSettings,
        *,
        conversation_factory: ConversationFactory | None = None,
        notifier: SystemdNotifier | None = None,
        system: Callable[[], SystemFigures] | None = None,
    ) -> None:
        self.settings = settings
        self.store = StoreWorker(settings.database_path, settings.store)
        self.notifier = notifier or SystemdNotifier()
        self.announcer = Announcer(
            settings.screen_path,
            speak=settings.announce.speak,
            espeak_command=settings.announce.espeak_command,
        )
        self.conversation_factory = conversation_factory or load_conversation_factory(settings)
        self._system = system or (lambda: system_figures(settings.state_dir))
        self._inputs: asyncio.Queue[Input] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._online: bool | None = None
        self._last_error: tuple[datetime, str] | None = None
        self._last_driven = time.monotonic()
        self._stopped = asyncio.Event()
        self._mic_ok: bool | None = None
        self.machine = KioskMachine(debounce_s=settings.session.debounce_s)
        self.badges = BadgeLoop(
            settings.badge,
            self.feed,
            now,
            self.error,
            repeats_ignored=lambda: self.machine.repeats_ignored,
            publish=lambda report: self._publish({READER_REPORT_KEY: report}),
        )
        self.screen = ScreenFeed(
            ScreenModel(simulate_badge=settings.screen.simulate_badge),
            level=self.conversation_factory.level,
        )
        self.screen_server: ScreenServer | None = None
        self.link = CloudLink(self, settings, self.store, self.conversation_factory)
        self.records = RecordKeeper(
            self.store,
            feed=self.feed,
            error=self.error,
            written=self.link.wake_uploader,
            retry_s=settings.store.write_retry_s,
        )

    # -- what services and tasks call -------------------------------------------------------

    def feed(self, event: Input) -> None:
        self._inputs.put_nowait(event)

    def cloud_reachable(self) -> None:
        if self._online is not True:
            if self._online is False:
                logger.info("the cloud answers again")
            self._online = True
            self.feed(CloudReachable(now()))

    def cloud_unreachable(self, reason: str) -> None:
        if self._online is not False:
            logger.warning("the cloud does not answer: %s", reason)
            self._online = False
            self.feed(CloudUnreachable(now(), reason))
            self.error(reason)

    def credential_rejected(self, reason: str) -> None:
        self.spawn(self.link.disconnect(reason, retire=False), "credential rejected")

    def error(self, message: str) -> None:
        self._last_error = (datetime.now(UTC), message)
        self.spawn(self._publish({"last_error": message}), "publish error")

    def last_error(self) -> str | None:
        return self._last_error[1] if self._last_error else None

    @property
    def state(self) -> AgentState:
        return self.machine.state

    def system_figures(self) -> SystemFigures:
        return self._system()

    def device_figures(self) -> DeviceFigures:
        return replace(self.badges.figures(), mic_ok=self._mic_ok)

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._reap)
        return task

    def _reap(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            logger.error("task %r failed: %s", task.get_name(), exc, exc_info=exc)
            self.error(f"internal error in {task.get_name()}: {exc}")

    def request_stop(self) -> None:
        logger.info("stopping: ending any session and writing its record first")
        self.feed(ShutdownRequested(now()))

    # -- running ----------------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        try:
            return await self._run()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    async def _run(self) -> int:
        store_ok = await self.store.open()
        config = await self._saved_config() if store_ok else None
        if config is not None:
            self.machine.config = config
        self.screen.model.language = self.machine.config.language
        await self._open_screen()
        identity = await self.link.load_identity()
        self.records.ok = store_ok
        await self._note_start()  # may find the store cannot be written after all
        started = AgentStarted(now(), provisioned=identity is not None, store_ok=self.records.ok)
        self.feed(started)
        driver = self.spawn(self._drive(), "state machine")
        # Should the state machine's task ever fail, stop (systemd restarts the agent)
        # rather than keep a kiosk that reads badges and does nothing with them.
        driver.add_done_callback(lambda _: self._stopped.set())
        self.spawn(self._tick(), "clock")
        self.spawn(self.badges.run(), "badge reader")
        self.spawn(self.records.retry_forever(), "store retry")
        if self.notifier.watchdog_s:
            self.spawn(self._watchdog(self.notifier.watchdog_s), "watchdog")
        if identity is not None:
            await self.link.connect(identity)
        else:
            logger.warning(
                "this kiosk is not provisioned: run `jarvis-kiosk provision`; waiting for it"
            )
            self.link.watch_for_identity()
        self.notifier.ready(f"{self.machine.state.value}: started (jarvis-kiosk {__version__})")
        await self._stopped.wait()
        clean = driver.done() and not driver.cancelled() and driver.exception() is None
        await self._shutdown()
        return 0 if clean else 1

    async def _open_screen(self) -> None:
        """Serve the screen page (on 127.0.0.1): a kiosk with a display shows it."""
        if not self.settings.screen.enabled:
            return
        server = ScreenServer(
            self.screen,
            port=self.settings.screen.port,
            tap=lambda badge_id: self.feed(BadgeTapped(now(), badge_id)),
        )
        try:
            await server.start()
        except OSError as exc:
            message = f"the screen page cannot be served: {exc}; the kiosk works without it"
            logger.error("%s", message)
            self.error(message)
            return
        self.screen_server = server

    async def _shutdown(self) -> None:
        self.notifier.stopping("stopping")
        await self.records.last_chance()
        await self.link.close()
        await self._publish({"agent_clean_exit": "1", "agent_state": AgentState.STOPPED.value})
        await stop_tasks(list(self._tasks), logger)
        await self.announcer.stop()
        if self.screen_server is not None:
            try:
                await self.screen_server.stop()
            except Exception:
                logger.exception("stopping the kiosk screen failed")
        try:
            await self.conversation_factory.aclose()  # the realtime factory holds the audio
        except Exception:
            logger.exception("closing the voice conversations' devices failed")
        await self.store.close()
        self.notifier.close()

    async def _drive(self) -> None:
        stop_deadline: float | None = None
        while True:
            if stop_deadline is None and self.machine.shutting_down:
                stop_deadline = time.monotonic() + SHUTDOWN_GRACE_S
            try:
                if stop_deadline is None:
                    event = await self._inputs.get()
                else:
                    async with asyncio.timeout(max(0.0, stop_deadline - time.monotonic())):
                        event = await self._inputs.get()
            except TimeoutError:
                logger.error("the session did not close within %.0f s; stopping", SHUTDOWN_GRACE_S)
                break
            effects = self.machine.handle(event)
            self._last_driven = time.monotonic()
            for effect in effects:
                await self._carry_out(effect)
            if self.machine.state is AgentState.STOPPED:
                break
        self._stopped.set()

    async def _carry_out(self, effect: Effect) -> None:
        match effect:
            case LookupMember(check_id=check_id, badge_id=badge_id):
                self.spawn(self._lookup(check_id, badge_id), "member lookup")
            case StartVoice(session_id=session_id, member=member):
                self.screen.serving(member)
                runner = self.link.runner
                if runner is None:
                    message = "this kiosk is not connected to a cloud"
                    self.feed(VoiceStartFailed(now(), session_id, "not_provisioned", message))
                else:
                    self.spawn(runner.start_voice(session_id, member), "voice start")
            case StartConversation(session_id=session_id, member=member, start=start):
                # A runner exists: the cloud just granted this session through it.
                assert self.link.runner is not None
                self.spawn(self.link.runner.converse(session_id, member, start), "conversation")
            case EndConversation(session_id=session_id, reason=reason):
                if self.link.runner is not None:
                    self.link.runner.end(session_id, reason)
            case Announce():
                self.screen.announce(effect.notice.value, effect.text, effect.language)
                self.spawn(
                    self.announcer.announce(
                        effect.notice.value, effect.text, effect.language, spoken=effect.spoken
                    ),
                    "announce",
                )
            case RecordEvent(event=event):
                await self.records.keep(event)
            case RecordSession(record=record):
                logger.info(
                    "session %s ended (%s, %d turns): recorded in the outbox",
                    record.id,
                    record.end_reason.value,
                    len(record.turns),
                )
                self._mic_ok = microphone_evidence(record, self._mic_ok)
                await self.records.keep(record)
            case StateChanged(state=state, detail=detail):
                logger.info("state: %s (%s)", state.value, detail)
                self.screen.agent_state(state)
                self.notifier.status(f"{state.value}: {detail}")
                self.spawn(
                    self._publish(
                        {
                            "agent_state": state.value,
                            "agent_state_detail": detail,
                            "agent_state_since": datetime.now(UTC).isoformat(),
                        }
                    ),
                    "publish state",
                )
            case Stopped():
                pass

    async def _lookup(self, check_id: int, badge_id: str) -> None:
        directory = self.link.members
        if directory is None:
            card, source = None, MemberSource.NONE
        else:
            card, source = await directory.lookup(badge_id)
        self.feed(MemberChecked(now(), check_id, card, source))

    # -- status, clock, watchdog ------------------------------------------------------------

    async def _publish(self, values: dict[str, str | None]) -> None:
        with contextlib.suppress(StoreError):
            await self.store.write(lambda s: s.put(values))

    async def _note_start(self) -> None:
        def note(store: KioskStore) -> str:
            previous = store.get("agent_clean_exit")
            store.put(
                {
                    "agent_clean_exit": "0",
                    "agent_pid": str(os.getpid()),
                    "agent_version": __version__,
                    "agent_started_at": datetime.now(UTC).isoformat(),
                }
            )
            return {"1": "clean", "0": "unclean"}.get(previous or "", "first_start")

        try:
            previous_exit = await self.store.write(note)
        except StoreError:
            return
        if previous_exit == "unclean":
            logger.warning("the previous run did not stop cleanly (power cut, crash or kill)")
        detail: dict[str, Any] = {"version": __version__, "previous_exit": previous_exit}
        await self.records.keep(self._event(EventKind.AGENT_STARTED, detail))
        for incident in self.store.incidents:
            await self.records.keep(self._event(EventKind.AGENT_ERROR, {"error": incident[:1000]}))
            self.error(incident)

    @staticmethod
    def _event(kind: EventKind, detail: dict[str, Any]) -> KioskEvent:
        return KioskEvent(id=uuid4(), kind=kind, occurred_at=datetime.now(UTC), detail=detail)

    async def _saved_config(self) -> KioskConfig | None:
        try:
            return await self.store.read(lambda s: s.desired_config())
        except StoreError:
            return None

    async def apply_config(self, config: KioskConfig) -> None:
        if config != self.machine.config:
            logger.info("applying the cloud's config: %s", config.model_dump_json())
            with contextlib.suppress(StoreError):
                await self.store.write(lambda s: s.save_desired_config(config))
        self.screen.identity(self.screen.model.kiosk, config.language)
        self.conversation_factory.apply_config(config)
        self.feed(ConfigApplied(now(), config))

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self.feed(Tick(now()))

    async def _watchdog(self, timeout_s: float) -> None:
        """Ping systemd while the state machine keeps turning (it gets a tick every second);
        a wedged driver stops the pings and systemd restarts the agent."""
        while True:
            await asyncio.sleep(timeout_s / 4)
            if time.monotonic() - self._last_driven < timeout_s / 2:
                self.notifier.watchdog()
