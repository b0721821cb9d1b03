"""Heartbeats: gather the figures, send them, apply the cloud's desired config and commands.

Each beat also keeps the store within its budget (heartbeat history first), and is logged in
the local history whether or not it reached the cloud.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from contract.kiosk_api import HeartbeatResponse, KioskCommand, KioskConfig
from kiosk_agent import __version__
from kiosk_agent.adapters.cloud import CloudClient
from kiosk_agent.adapters.cloud_errors import CloudError
from kiosk_agent.adapters.store import KioskStore, disk_status
from kiosk_agent.adapters.store_base import StoreError
from kiosk_agent.adapters.store_worker import StoreWorker
from kiosk_agent.config import KioskSettings
from kiosk_agent.core.heartbeat import (
    DeviceFigures,
    StoreFigures,
    SystemFigures,
    build_heartbeat,
)
from kiosk_agent.core.machine import AgentState
from kiosk_agent.services.hooks import AgentHooks, report

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BeatResult:
    sent_at: datetime
    ok: bool
    error: str | None = None
    response: HeartbeatResponse | None = None


class HeartbeatService:
    def __init__(
        self,
        settings: KioskSettings,
        store: StoreWorker,
        client: CloudClient,
        hooks: AgentHooks,
        *,
        state: Callable[[], AgentState],
        devices: Callable[[], DeviceFigures],
        last_error: Callable[[], str | None],
        system: Callable[[], SystemFigures],
        on_config: Callable[[KioskConfig], Awaitable[None]],
        on_command: Callable[[KioskCommand], Awaitable[None]],
    ) -> None:
        self._settings = settings
        self._store = store
        self._client = client
        self._hooks = hooks
        self._state = state
        self._devices = devices
        self._last_error = last_error
        self._system = system
        self._on_config = on_config
        self._on_command = on_command
        self.interval_s = settings.heartbeat.interval_s
        self._beat_now = asyncio.Event()
        self.last: BeatResult | None = None

    def set_interval(self, seconds: float) -> None:
        self.interval_s = seconds

    def beat_soon(self) -> None:
        self._beat_now.set()

    async def run(self) -> None:
        while True:
            self._beat_now.clear()
            await self.beat()
            try:
                async with asyncio.timeout(self.interval_s):
                    await self._beat_now.wait()
            except TimeoutError:
                pass

    async def store_figures(self) -> StoreFigures:
        settings = self._settings

        def gather(store: KioskStore) -> StoreFigures:
            counts = store.outbox_counts()
            incident = store.recent_incident()
            disk = disk_status(settings.state_dir, settings.store)
            return StoreFigures(
                pending_sessions=counts.pending_sessions,
                pending_events=counts.pending_events,
                refused=counts.refused,
                size_mb=store.used_bytes() / 1_048_576,
                disk_nearly_full=disk.nearly_full,
                ok=incident is None,
                problem=incident.message if incident else None,
            )

        try:
            figures = await self._store.read(gather)
        except StoreError as exc:
            return StoreFigures(ok=False, problem=str(exc), disk_nearly_full=self._disk_full())
        problem = self._store.problem
        if problem is not None:
            return StoreFigures(
                pending_sessions=figures.pending_sessions,
                pending_events=figures.pending_events,
                refused=figures.refused,
                size_mb=figures.size_mb,
                disk_nearly_full=figures.disk_nearly_full or "full" in problem,
                ok=False,
                problem=problem,
            )
        return figures

    def _disk_full(self) -> bool:
        try:
            return disk_status(self._settings.state_dir, self._settings.store).nearly_full
        except OSError:
            return False

    async def beat(self) -> BeatResult:
        try:
            system = await asyncio.to_thread(self._system)
        except Exception as exc:  # figures are best effort: a heartbeat goes out regardless
            logger.warning("cannot read system figures: %s", exc)
            system = SystemFigures()
        store = await self.store_figures()
        sent_at = datetime.now(UTC)
        request = build_heartbeat(
            software_version=__version__,
            state=self._state(),
            system=system,
            store=store,
            devices=self._devices(),
            last_error=self._last_error(),
            sent_at=sent_at,
        )
        try:
            response = await self._client.heartbeat(request)
        except CloudError as exc:
            result = BeatResult(sent_at, ok=False, error=str(exc))
            report(self._hooks, exc, "heartbeat")
        else:
            result = BeatResult(sent_at, ok=True, response=response)
            self._hooks.cloud_reachable()
        self.last = result
        await self._keep(request.model_dump_json(), result)
        if result.response is not None:
            await self._apply(result.response)
        return result

    async def _keep(self, payload: str, result: BeatResult) -> None:
        def keep(store: KioskStore) -> None:
            store.log_heartbeat(
                sent_at=result.sent_at, ok=result.ok, payload=payload, error=result.error
            )
            store.put(
                {
                    "last_heartbeat_at": result.sent_at.isoformat(),
                    "last_heartbeat_ok": "1" if result.ok else "0",
                    "last_heartbeat_error": result.error,
                }
            )
            store.enforce_budget()

        # On failure the store worker has logged it, and the next heartbeat reports it.
        with contextlib.suppress(StoreError):
            await self._store.write(keep)

    async def _apply(self, response: HeartbeatResponse) -> None:
        await self._on_config(response.config)
        for command in response.commands:
            await self._on_command(command)
