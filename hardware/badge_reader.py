"""What every badge reader gives the kiosk agent: canonical badge reads, and its health.

Each reader kind (evdev, PC/SC, simulated) only produces the text or bytes its device emits;
the code here turns that into canonical ids with the configured rules, drops repeated taps,
keeps the reader's health for heartbeats and `doctor`, and hands reads to the agent through
one async iterator, so the agent never knows which kind of reader is plugged in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from types import TracebackType
from typing import Protocol, Self

from contract.badge import BadgeIdError, BadgeRules, badge_id_from_uid, normalize_badge_id
from hardware.settings import BadgeReaderSettings, ReaderKind

logger = logging.getLogger(__name__)


class BadgeReaderError(RuntimeError):
    """A reader stopped for a reason that retrying will not fix."""


@dataclass(frozen=True, slots=True)
class BadgeRead:
    """One badge presented to the kiosk."""

    badge_id: str
    """Canonical id (see contract.badge)."""
    raw: str
    """What the reader emitted, for logs and for diagnosing a wrong rule."""
    reader: str
    """Which reader saw it, e.g. ``evdev:/dev/input/by-id/...``."""
    at: datetime
    """Wall-clock time of the read (UTC), for records."""
    monotonic: float
    """``time.monotonic()`` of the read, for timeouts."""


class ReaderState(StrEnum):
    """Where a reader is in its life, as a heartbeat reports it."""

    STARTING = "starting"
    READY = "ready"
    """Open and listening."""
    UNAVAILABLE = "unavailable"
    """Absent, unplugged or its service is down: retrying with backoff (see ``detail``)."""
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class ReaderHealth:
    """A snapshot of a reader's health for heartbeats and `jarvis-kiosk doctor`."""

    state: ReaderState
    detail: str
    """What a person should know: which device is open, or why none is and what to do."""
    reads: int = 0
    rejected: int = 0
    """Reads whose text did not fit the badge rules."""
    debounced: int = 0
    last_read_at: datetime | None = None
    last_error: str | None = None


class BadgeReader(Protocol):
    """The interface the kiosk agent uses, whatever the reader kind.

    Usage::

        async with open_badge_reader(settings.badge) as reader:
            async for read in reader.reads():
                ...
    """

    @property
    def description(self) -> str: ...

    @property
    def health(self) -> ReaderHealth: ...

    def reads(self) -> AsyncIterator[BadgeRead]: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@dataclass(slots=True)
class BadgeFilter:
    """Sans-I/O: raw reader output in, canonical reads out, repeated taps dropped.

    A badge held on a reader, or tapped twice by an impatient member, must start one
    session, not two; a different badge is let through at once.
    """

    rules: BadgeRules
    debounce_s: float
    reader: str
    _last_id: str | None = field(default=None, init=False)
    _last_at: float = field(default=float("-inf"), init=False)
    debounced: int = field(default=0, init=False)

    def accept(self, raw: str, monotonic: float) -> BadgeRead | None:
        """The read to hand to the agent, or None for a repeat; BadgeIdError if unreadable."""
        return self._accept_id(normalize_badge_id(raw, self.rules), raw, monotonic)

    def accept_uid(self, uid: bytes, monotonic: float) -> BadgeRead | None:
        """Same as :meth:`accept` for readers that return UID bytes (PC/SC)."""
        return self._accept_id(badge_id_from_uid(uid), uid.hex().upper(), monotonic)

    def _accept_id(self, badge_id: str, raw: str, monotonic: float) -> BadgeRead | None:
        repeat = badge_id == self._last_id and monotonic - self._last_at < self.debounce_s
        self._last_id = badge_id
        self._last_at = monotonic
        if repeat:
            self.debounced += 1
            return None
        return BadgeRead(
            badge_id=badge_id,
            raw=raw,
            reader=self.reader,
            at=datetime.now(UTC),
            monotonic=monotonic,
        )


@dataclass(slots=True)
class Backoff:
    """Delays between reopen attempts: doubling from ``initial`` up to ``maximum``."""

    initial: float
    maximum: float
    _next: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self._next = self.initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.maximum)
        return delay

    def reset(self) -> None:
        self._next = self.initial


class QueuedBadgeReader(ABC):
    """Shared machinery of the reader adapters: a background task feeding a queue.

    Subclasses implement :meth:`_run`, which loops for as long as the reader is open,
    calling :meth:`_offer` with what the device emitted and :meth:`_set_state` when the
    device comes and goes. An unexpected exception in ``_run`` ends ``reads()`` with it.
    """

    def __init__(
        self,
        description: str,
        rules: BadgeRules,
        debounce_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._description = description
        self._filter = BadgeFilter(rules=rules, debounce_s=debounce_s, reader=description)
        self._clock = clock
        self._queue: asyncio.Queue[BadgeRead | BaseException] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._health = ReaderHealth(state=ReaderState.STARTING, detail="not started yet")

    @property
    def description(self) -> str:
        return self._description

    @property
    def health(self) -> ReaderHealth:
        return replace(self._health, debounced=self._filter.debounced)

    async def __aenter__(self) -> Self:
        if self._task is not None:
            raise RuntimeError(f"{self._description} is already open")
        self._task = asyncio.create_task(self._supervise(), name=f"badge reader {self}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop reading and release the device."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._set_state(ReaderState.STOPPED, "closed")

    async def reads(self) -> AsyncIterator[BadgeRead]:
        """Canonical badge reads, as they happen, for as long as the reader is open."""
        if self._task is None:
            raise RuntimeError(f"open the reader first: `async with reader:` ({self})")
        while True:
            item = await self._queue.get()
            if isinstance(item, BaseException):
                raise item
            yield item

    def __str__(self) -> str:
        return self._description

    @abstractmethod
    async def _run(self) -> None:
        """Read the device until cancelled, reopening it as needed."""

    async def _supervise(self) -> None:
        try:
            await self._run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("%s stopped", self._description)
            self._set_state(ReaderState.STOPPED, f"stopped: {exc}")
            failure = BadgeReaderError(f"{self._description} stopped: {exc}")
            failure.__cause__ = exc
            self._queue.put_nowait(failure)

    def _offer(self, raw: str) -> BadgeRead | str | None:
        """Hand what the device emitted to the agent if it is a new, readable badge.

        Returns the read handed over, the reason it was refused, or None for a repeat.
        """
        try:
            read = self._filter.accept(raw, self._clock())
        except BadgeIdError as exc:
            return self._reject(str(exc))
        return self._deliver(read)

    def _offer_uid(self, uid: bytes) -> BadgeRead | str | None:
        try:
            read = self._filter.accept_uid(uid, self._clock())
        except BadgeIdError as exc:
            return self._reject(str(exc))
        return self._deliver(read)

    def _reject(self, message: str) -> str:
        logger.warning("%s: badge ignored: %s", self._description, message)
        self._health = replace(self._health, rejected=self._health.rejected + 1, last_error=message)
        return message

    def _deliver(self, read: BadgeRead | None) -> BadgeRead | None:
        if read is not None:
            self._health = replace(self._health, reads=self._health.reads + 1, last_read_at=read.at)
            self._queue.put_nowait(read)
        return read

    def _set_state(self, state: ReaderState, detail: str) -> None:
        if (state, detail) != (self._health.state, self._health.detail):
            log = logger.warning if state is ReaderState.UNAVAILABLE else logger.info
            log("%s: %s: %s", self._description, state.value, detail)
        error = detail if state is ReaderState.UNAVAILABLE else self._health.last_error
        self._health = replace(self._health, state=state, detail=detail, last_error=error)


def open_badge_reader(settings: BadgeReaderSettings) -> QueuedBadgeReader:
    """The reader the settings describe, not yet open (use ``async with``)."""
    # Imported here so a kiosk with one kind of reader never imports the others' libraries.
    if settings.kind is ReaderKind.EVDEV:
        from hardware.badge_wedge import WedgeBadgeReader

        return WedgeBadgeReader(settings)
    if settings.kind is ReaderKind.PCSC:
        from hardware.badge_pcsc import PcscBadgeReader

        return PcscBadgeReader(settings)
    from hardware.badge_sim import SimulatedBadgeReader

    return SimulatedBadgeReader(settings)
