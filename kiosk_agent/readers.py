"""The badge reader as the agent runs it: canonical reads into the state machine, and the
reader's figures for heartbeats, ``jarvis-kiosk status`` and ``doctor``.

The reader keeps itself open (its own supervision loop reopens a device that goes away,
see :mod:`hardware.badge_reader`); this opens it once. Should the reader's configuration
make it unusable, the agent keeps running without badges and says why in every heartbeat.

The figures (counters, the shapes of recent raw reads, and advice when they say the reader
is set up wrong) are published to the store whenever they change, so ``doctor`` can read
what the running agent saw.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from contract.kiosk_api import DroppedBadgeIds, ReaderReport
from hardware.badge_factory import open_badge_reader
from hardware.badge_health import DropCounts, ReaderHealth, ReaderState, reader_advice
from hardware.badge_reader import BadgeReaderError, QueuedBadgeReader
from hardware.settings import BadgeReaderSettings
from kiosk_agent.core.heartbeat import DeviceFigures
from kiosk_agent.core.machine import BadgeTapped, Input, Moment
from kiosk_agent.tasks import stop_tasks

logger = logging.getLogger(__name__)

READER_REPORT_KEY = "reader_report"
"""Store key of the latest :class:`ReaderReport` (JSON), for ``doctor`` and ``status``."""
PUBLISH_EVERY_S = 1.0


def reader_report(
    health: ReaderHealth, settings: BadgeReaderSettings, repeats_ignored: int
) -> ReaderReport:
    """The heartbeat's view of a reader's health."""
    dropped = health.dropped
    return ReaderReport(
        state=health.state.value,
        reads=health.reads,
        rejected=health.rejected,
        repeats_ignored=repeats_ignored,
        dropped=DroppedBadgeIds(
            gap=dropped.gap,
            garbage=dropped.garbage,
            too_long=dropped.too_long,
            unplugged=dropped.unplugged,
        ),
        last_read_at=health.last_read_at,
        recent_shapes=list(health.recent_shapes),
        advice=reader_advice(settings, health),
    )


def health_from_report(report: ReaderReport, detail: str = "") -> ReaderHealth:
    """A published report read back as the reader's health (``doctor`` reads the agent's)."""
    return ReaderHealth(
        state=ReaderState(report.state) if report.state else ReaderState.STARTING,
        detail=detail,
        reads=report.reads,
        rejected=report.rejected,
        dropped=DropCounts(
            gap=report.dropped.gap,
            garbage=report.dropped.garbage,
            too_long=report.dropped.too_long,
            unplugged=report.dropped.unplugged,
        ),
        last_read_at=report.last_read_at,
        recent_shapes=tuple(report.recent_shapes),
    )


class BadgeLoop:
    def __init__(
        self,
        settings: BadgeReaderSettings,
        feed: Callable[[Input], None],
        now: Callable[[], Moment],
        error: Callable[[str], None],
        *,
        repeats_ignored: Callable[[], int],
        publish: Callable[[str], Awaitable[None]],
        publish_every_s: float = PUBLISH_EVERY_S,
    ) -> None:
        self._settings = settings
        self._feed = feed
        self._now = now
        self._error = error
        self._repeats_ignored = repeats_ignored
        self._publish = publish
        self._publish_every_s = publish_every_s
        self._published: str | None = None
        self.reader: QueuedBadgeReader | None = None
        self.failure: str | None = None

    async def run(self) -> None:
        """Read badges until cancelled (or until the reader's configuration fails)."""
        try:
            reader = open_badge_reader(self._settings)
            async with reader:
                self.reader = reader
                publishing = asyncio.create_task(self._keep_published(), name="reader report")
                try:
                    async for read in reader.reads():
                        logger.info("badge read on %s", read.reader)
                        self._feed(BadgeTapped(self._now(), read.badge_id))
                finally:
                    await stop_tasks([publishing], logger)
        except (BadgeReaderError, OSError) as exc:
            self.failure = f"badge reader: {exc}; fix the reader settings and restart the agent"
            logger.error("%s", self.failure)
            self._error(self.failure)
        finally:
            self.reader = None

    def report(self) -> ReaderReport | None:
        reader = self.reader
        if reader is None:
            return None
        return reader_report(reader.health, self._settings, self._repeats_ignored())

    def figures(self) -> DeviceFigures:
        reader = self.reader
        if reader is None:
            return DeviceFigures(
                reader_ok=False if self.failure else None, reader_detail=self.failure
            )
        health = reader.health
        ok = {ReaderState.READY: True, ReaderState.STARTING: None}.get(health.state, False)
        return DeviceFigures(
            reader_ok=ok,
            reader_detail=f"{reader.description}: {health.detail}",
            reader=self.report(),
        )

    async def _keep_published(self) -> None:
        while True:
            await self._publish_if_changed()
            await asyncio.sleep(self._publish_every_s)

    async def _publish_if_changed(self) -> None:
        report = self.report()
        text = report.model_dump_json() if report is not None else None
        if text is not None and text != self._published:
            self._published = text
            await self._publish(text)
