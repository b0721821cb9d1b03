"""The badge reader as the agent runs it: canonical reads into the state machine, reopened
with backoff when it fails, and its health for heartbeats."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from hardware.badge_reader import (
    BadgeReaderError,
    QueuedBadgeReader,
    ReaderState,
    open_badge_reader,
)
from hardware.settings import BadgeReaderSettings
from kiosk_agent.core.heartbeat import DeviceFigures
from kiosk_agent.core.machine import BadgeTapped, Input, Moment

logger = logging.getLogger(__name__)

MAX_REOPEN_DELAY_S = 300.0


class BadgeLoop:
    def __init__(
        self,
        settings: BadgeReaderSettings,
        feed: Callable[[Input], None],
        now: Callable[[], Moment],
        error: Callable[[str], None],
    ) -> None:
        self._settings = settings
        self._feed = feed
        self._now = now
        self._error = error
        self.reader: QueuedBadgeReader | None = None
        self.failure: str | None = None

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                reader = open_badge_reader(self._settings)
                async with reader:
                    self.reader = reader
                    self.failure = None
                    async for read in reader.reads():
                        failures = 0
                        logger.info("badge read on %s", read.reader)
                        self._feed(BadgeTapped(self._now(), read.badge_id))
                message = "the badge reader stopped delivering badges"
            except (BadgeReaderError, OSError) as exc:
                message = f"badge reader: {exc}"
            self.reader = None
            self.failure = message
            failures += 1
            delay = min(MAX_REOPEN_DELAY_S, 2.0**failures)
            logger.error("%s; trying again in %.0f s", message, delay)
            self._error(message)
            await asyncio.sleep(delay)

    def figures(self) -> DeviceFigures:
        reader = self.reader
        if reader is None:
            return DeviceFigures(
                reader_ok=False if self.failure else None, reader_detail=self.failure
            )
        health = reader.health
        ok = {ReaderState.READY: True, ReaderState.STARTING: None}.get(health.state, False)
        return DeviceFigures(reader_ok=ok, reader_detail=f"{reader.description}: {health.detail}")
