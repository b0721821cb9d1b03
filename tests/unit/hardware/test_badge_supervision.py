"""The one supervision loop every reader kind runs in: attach, and when the device goes
away, wait the shared jittered backoff and attach again; only a configuration error stops."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import pytest
from eventually import until

from contract.backoff import Backoff
from hardware.badge_health import ReaderState
from hardware.badge_reader import BadgeReaderError, QueuedBadgeReader, ReaderUnavailable
from hardware.settings import BadgeReaderSettings

SETTINGS = BadgeReaderSettings(reopen_initial_s=0.5, reopen_max_s=4.0)

Attempt = Callable[["ScriptedReader"], None]


class ScriptedReader(QueuedBadgeReader):
    """Each attach runs the next step of a script; the last step repeats."""

    def __init__(self, *steps: Attempt, rng: random.Random | None = None) -> None:
        super().__init__("scripted", SETTINGS, sleep=self._note_sleep, rng=rng)
        self.steps = list(steps)
        self.attaches = 0
        self.delays: list[float] = []

    async def _note_sleep(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)

    async def _attach(self) -> None:
        self.attaches += 1
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        step(self)
        await asyncio.Event().wait()


def missing(reader: ScriptedReader) -> None:
    raise ReaderUnavailable("no reader at /dev/input/by-id/x: plug it in")


def reads(*raws: str) -> Attempt:
    def attach(reader: ScriptedReader) -> None:
        reader._connected()
        reader._set_state(ReaderState.READY, "reading")
        for raw in raws:
            reader._offer(raw)

    return attach


def unplugged_after(*raws: str) -> Attempt:
    def attach(reader: ScriptedReader) -> None:
        reads(*raws)(reader)
        raise ReaderUnavailable("went away: unplugged")

    return attach


def broken(reader: ScriptedReader) -> None:
    raise KeyError("a driver surprise")


def misconfigured(reader: ScriptedReader) -> None:
    raise BadgeReaderError("no keyboard-wedge reader configured")


async def test_delays_follow_the_shared_policy_and_reset_once_the_device_answers() -> None:
    script = (missing, missing, missing, unplugged_after("04A23B12"), missing, reads())
    reader = ScriptedReader(*script, rng=random.Random(3))
    async with reader:
        await until(lambda: reader.attaches == 6)
    # Three failures grow the wait; the device answering resets it before the next one.
    failures = (1, 2, 3, 1, 2)
    backoff, same_draws = Backoff(0.5, 4.0), random.Random(3)
    assert reader.delays == [backoff.delay(n, same_draws) for n in failures]
    for delay, n in zip(reader.delays, failures, strict=True):
        assert backoff.step(n) / 2 <= delay <= backoff.step(n)


async def test_an_unexpected_failure_is_retried_not_fatal() -> None:
    reader = ScriptedReader(broken, reads("04A23B12"))
    async with reader, asyncio.timeout(5):
        first = await anext(aiter(reader.reads()))
    assert first.badge_id == "04A23B12"
    assert reader.attaches == 2
    assert "failed unexpectedly (KeyError" in (reader.health.last_error or "")


async def test_a_configuration_error_stops_the_reader_and_ends_its_reads() -> None:
    reader = ScriptedReader(misconfigured)
    async with reader, asyncio.timeout(5):
        with pytest.raises(BadgeReaderError, match="no keyboard-wedge reader configured"):
            await anext(aiter(reader.reads()))
        assert reader.health.state is ReaderState.STOPPED
    assert reader.attaches == 1


async def test_closing_stops_the_loop_even_when_cleanup_fails() -> None:
    class CleanupFails(ScriptedReader):
        async def _attach(self) -> None:
            self.attaches += 1
            self._connected()
            self._set_state(ReaderState.READY, "reading")
            try:
                await asyncio.Event().wait()
            finally:
                raise ValueError("I/O operation on closed file")

    reader = CleanupFails(missing)
    async with asyncio.timeout(5):
        async with reader:
            await until(lambda: reader.health.state is ReaderState.READY)
    assert reader.health.state is ReaderState.STOPPED
    assert reader.attaches == 1
