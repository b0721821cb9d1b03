"""Keeping records: every session record and event the state machine produces goes to the
store before anything else happens, and is held in memory while the store cannot take it.

A failed write (disk full, I/O errors) tells the state machine the store is unhealthy (it
refuses new sessions: out of service), keeps the record in order, and is retried every
``store.write_retry_s`` after making room (heartbeat history first); the first write that
succeeds again restores the store's health. Records still unwritten when the agent stops are
named in the log: the one case a record can be lost, and only with the disk still full.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from contract.kiosk_api import EndReason, KioskEvent, SessionRecord
from kiosk_agent.adapters.clock import now
from kiosk_agent.adapters.store import KioskStore
from kiosk_agent.adapters.store_base import StoreError
from kiosk_agent.adapters.store_worker import StoreWorker
from kiosk_agent.core.machine import Input, StoreHealth

logger = logging.getLogger(__name__)

Record = SessionRecord | KioskEvent


class RecordKeeper:
    def __init__(
        self,
        store: StoreWorker,
        *,
        feed: Callable[[Input], None],
        error: Callable[[str], None],
        written: Callable[[], None],
        retry_s: float,
    ) -> None:
        self._store = store
        self._feed = feed
        self._error = error
        self._written = written
        self._retry_s = retry_s
        self.unwritten: deque[Record] = deque()
        self.ok = True
        """The last write succeeded (what the state machine was last told)."""

    async def keep(self, record: Record) -> None:
        self.unwritten.append(record)
        await self.flush()

    async def flush(self) -> None:
        while self.unwritten:
            try:
                await self._store.write(_enqueuer(self.unwritten[0]))
            except StoreError as exc:
                if self.ok:
                    self.ok = False
                    self._error(f"cannot write to the local store: {exc}")
                    self._feed(StoreHealth(now(), ok=False, reason=str(exc)))
                return
            self.unwritten.popleft()
        if not self.ok:
            self.ok = True
            self._feed(StoreHealth(now(), ok=True))
        self._written()

    async def retry_forever(self) -> None:
        while True:
            await asyncio.sleep(self._retry_s)
            if self.unwritten or not self.ok:
                with contextlib.suppress(StoreError):
                    await self._store.write(lambda s: s.enforce_budget())
                await self.flush()

    async def last_chance(self) -> None:
        """At shutdown: one more try, then name what could not be kept."""
        await self.flush()
        for record in self.unwritten:
            logger.error(
                "record %s could not be written to the store before stopping and is lost: %s",
                record.id,
                self._store.problem,
            )


def _enqueuer(record: Record) -> Callable[[KioskStore], bool]:
    def enqueue(store: KioskStore) -> bool:
        if isinstance(record, SessionRecord):
            return store.enqueue_session(record)
        return store.enqueue_event(record)

    return enqueue


def microphone_evidence(record: SessionRecord, before: bool | None) -> bool | None:
    """What a finished session says about the microphone (the conversation owns it, so this
    is the agent's only evidence between `doctor` runs): the member was heard, so it works;
    the audio device failed, so it does not; otherwise nothing new."""
    if any(turn.role == "user" for turn in record.turns):
        return True
    failed = record.end_reason is EndReason.REALTIME_ERROR
    if failed and any("audio" in e.lower() or "microphone" in e.lower() for e in record.errors):
        return False
    return before
