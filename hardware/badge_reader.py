"""What every badge reader gives the kiosk agent: canonical badge reads, its health, and the
one loop that keeps it open.

Each reader kind (evdev, PC/SC, simulated) only attaches to its device and hands over the
text or bytes the device emits; the base class here turns that into canonical ids with the
configured rules, keeps the reader's health for heartbeats and `doctor`, supervises the
device (reopening it with the shared backoff whenever it goes away), and hands reads to the
agent through one async iterator, so the agent never knows which kind of reader is plugged in.

Deciding which reads are repeats of the same tap is not a reader's job: the kiosk's state
machine does it (see ``kiosk_agent.core.machine``), for every reader kind alike.

Readers import this module; :mod:`hardware.badge_factory` imports the readers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from contract.backoff import Backoff
from contract.badge import BadgeIdError, BadgeRules, badge_id_from_uid, normalize_badge_id
from hardware.badge_health import (
    RECENT_SHAPES,
    DropCounts,
    ReaderHealth,
    ReaderState,
    badge_shape,
)
from hardware.settings import BadgeReaderSettings

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class BadgeReaderError(RuntimeError):
    """A reader stopped for a reason that retrying will not fix (its configuration)."""


class ReaderUnavailable(Exception):
    """The device cannot be used now (absent, unplugged, busy, its service down); the message
    says why and what to do. The reader tries again with backoff."""


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


class QueuedBadgeReader(ABC):
    """The interface the kiosk agent uses, whatever the reader kind, and its machinery.

    Usage::

        async with open_badge_reader(settings.badge) as reader:
            async for read in reader.reads():
                ...

    Subclasses implement :meth:`_attach`: open the device, call :meth:`_connected` once it
    answers, hand what it emits to :meth:`_offer` (text) or :meth:`_offer_uid` (UID bytes),
    and raise :class:`ReaderUnavailable` when it goes away. Everything else (the backoff
    between attempts, the state a heartbeat shows, the queue of reads) happens here, once.
    """

    def __init__(
        self,
        description: str,
        settings: BadgeReaderSettings,
        *,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._description = description
        self._rules: BadgeRules = settings.rules
        self._backoff = Backoff(settings.reopen_initial_s, settings.reopen_max_s)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._clock = clock
        self._failures = 0
        self._shapes: deque[str] = deque(maxlen=RECENT_SHAPES)
        self._queue: asyncio.Queue[BadgeRead | BaseException] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._health = ReaderHealth(state=ReaderState.STARTING, detail="not started yet")

    @property
    def description(self) -> str:
        return self._description

    @property
    def rules(self) -> BadgeRules:
        return self._rules

    @property
    def health(self) -> ReaderHealth:
        return replace(self._health, dropped=self._drops(), recent_shapes=tuple(self._shapes))

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
        """Canonical badge reads, as they happen, for as long as the reader is open.

        Ends with :class:`BadgeReaderError` only when the reader's configuration cannot work;
        a missing or unplugged device is retried, never raised.
        """
        if self._task is None:
            raise RuntimeError(f"open the reader first: `async with reader:` ({self})")
        while True:
            item = await self._queue.get()
            if isinstance(item, BaseException):
                raise item
            yield item

    def __str__(self) -> str:
        return self._description

    # -- what subclasses implement and call -------------------------------------------------

    @abstractmethod
    async def _attach(self) -> None:
        """Open the device and read it until it goes away (raise ReaderUnavailable) or the
        task is cancelled."""

    def _drops(self) -> DropCounts:
        """Partial ids the reader's decoder threw away (keyboard-wedge readers have one)."""
        return DropCounts()

    def _connected(self) -> None:
        """The device (or its service) answered: the next failure starts the backoff over."""
        self._failures = 0

    def _offer(self, raw: str, hint: Callable[[], str] | None = None) -> BadgeRead | str:
        """Hand typed text to the agent if it is a badge under the rules.

        Returns the read handed over, or the reason it was refused (``hint``, when given,
        adds a suggestion to that reason).
        """
        self._shapes.append(badge_shape(raw))
        try:
            badge_id = normalize_badge_id(raw, self._rules)
        except BadgeIdError as exc:
            return self._reject(f"{exc}{hint() if hint else ''}")
        return self._deliver(badge_id, raw)

    def _offer_uid(self, uid: bytes) -> BadgeRead | str:
        """Same as :meth:`_offer` for readers that return UID bytes (PC/SC): no rules apply."""
        try:
            badge_id = badge_id_from_uid(uid)
        except BadgeIdError as exc:
            return self._reject(str(exc))
        return self._deliver(badge_id, uid.hex().upper())

    def _reject(self, message: str) -> str:
        logger.warning("%s: badge ignored: %s", self._description, message)
        self._health = replace(self._health, rejected=self._health.rejected + 1, last_error=message)
        return message

    def _set_state(self, state: ReaderState, detail: str) -> None:
        if (state, detail) != (self._health.state, self._health.detail):
            log = logger.warning if state is ReaderState.UNAVAILABLE else logger.info
            log("%s: %s: %s", self._description, state.value, detail)
        error = detail if state is ReaderState.UNAVAILABLE else self._health.last_error
        self._health = replace(self._health, state=state, detail=detail, last_error=error)

    # -- the supervision loop ---------------------------------------------------------------

    async def _supervise(self) -> None:
        """Attach, and whenever the device goes away, wait (jittered backoff) and attach
        again, for as long as the reader is open. Only a configuration error stops it."""
        while True:
            try:
                await self._attach()
                reason = "the reader stopped delivering badges; reopening"
            except ReaderUnavailable as exc:
                reason = str(exc)
            except BadgeReaderError as exc:
                self._stop(exc)
                return
            except Exception as exc:  # a library or driver surprise: keep the kiosk reading
                if _being_cancelled():  # cleanup failed while the reader was being closed
                    raise asyncio.CancelledError from exc
                logger.exception("%s failed", self._description)
                reason = f"failed unexpectedly ({type(exc).__name__}: {exc}); reopening"
            self._set_state(ReaderState.UNAVAILABLE, reason)
            self._failures += 1
            await self._sleep(self._backoff.delay(self._failures, self._rng))

    def _stop(self, exc: BadgeReaderError) -> None:
        logger.error("%s stopped: %s", self._description, exc)
        self._set_state(ReaderState.STOPPED, f"stopped: {exc}")
        self._queue.put_nowait(exc)

    def _deliver(self, badge_id: str, raw: str) -> BadgeRead:
        read = BadgeRead(
            badge_id=badge_id,
            raw=raw,
            reader=self._description,
            at=datetime.now(UTC),
            monotonic=self._clock(),
        )
        self._health = replace(self._health, reads=self._health.reads + 1, last_read_at=read.at)
        self._queue.put_nowait(read)
        return read


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
