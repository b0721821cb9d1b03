"""The evdev adapter around the decoder: finding, grabbing, unplugging and its messages.

There is no input device here, so ``evdev.InputDevice`` is replaced by autospec'd fakes that
replay recorded event sequences; everything else is the real reader.
"""

from __future__ import annotations

import asyncio
import errno
import random
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any
from unittest.mock import create_autospec

import evdev
import pytest
from eventually import until
from evtest_recordings import UNPLUGGED, load_recording

from contract.badge import BadgeEncoding, BadgeRules, ByteOrder
from hardware.badge_health import ReaderState
from hardware.badge_reader import BadgeRead, BadgeReaderError
from hardware.badge_wedge import WedgeBadgeReader
from hardware.settings import BadgeReaderSettings, ReaderKind, WedgeReaderSettings

DECIMAL_REVERSED = BadgeRules(encoding=BadgeEncoding.DECIMAL, byte_order=ByteOrder.LSB_FIRST)


def fake_device(
    path: str,
    events: Sequence[object] = (),
    *,
    name: str = "Sycreader RFID Technology Co., Ltd SYC ID&IC USB Reader",
    usb: tuple[int, int] = (0xFFFF, 0x0035),
    then: BaseException | None = None,
) -> Any:
    """An InputDevice that replays ``events``, then raises ``then`` or waits forever."""
    device = create_autospec(evdev.InputDevice, instance=True)
    device.path = path
    device.name = name
    device.info = evdev.DeviceInfo(bustype=3, vendor=usb[0], product=usb[1], version=0x110)

    async def replay() -> AsyncIterator[object]:
        for event in events:
            yield event
        if then is not None:
            raise then
        await asyncio.Event().wait()

    device.async_read_loop.side_effect = replay
    return device


class WholeSteps(random.Random):
    """Draws the top of every jitter range, so backoff delays are the policy's steps."""

    def uniform(self, a: float, b: float) -> float:
        return b


class Sleeps:
    """Records backoff delays instead of waiting them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


def settings(rules: BadgeRules = DECIMAL_REVERSED, **wedge: Any) -> BadgeReaderSettings:
    return BadgeReaderSettings(
        kind=ReaderKind.EVDEV,
        rules=rules,
        evdev=WedgeReaderSettings(**wedge),
        reopen_initial_s=0.5,
        reopen_max_s=4.0,
    )


async def take(reader: WedgeBadgeReader, count: int) -> list[BadgeRead]:
    reads: list[BadgeRead] = []
    async with asyncio.timeout(5):
        async for read in reader.reads():
            reads.append(read)
            if len(reads) == count:
                return reads
    raise AssertionError("reads() ended")


async def wait_for_state(reader: WedgeBadgeReader, state: ReaderState) -> None:
    await until(lambda: reader.health.state is state)


async def test_reads_a_recorded_tap_and_grabs_the_device(tmp_path: Path) -> None:
    path = tmp_path / "usb-reader-event-kbd"
    path.touch()
    device = fake_device(str(path), load_recording("us_decimal_two_taps"))
    reader = WedgeBadgeReader(settings(device_path=path), open_device=lambda _: device)
    async with reader:
        reads = await take(reader, 2)
    assert [r.badge_id for r in reads] == ["04A23B12", "123BA204"]
    assert reads[0].raw == "0305897988"
    assert reads[0].reader == f"evdev:{path}"
    device.grab.assert_called_once_with()
    device.close.assert_called()
    assert reader.health.reads == 2


async def test_unplug_mid_badge_reopens_with_backoff(tmp_path: Path) -> None:
    events = load_recording("unplug_mid_badge")
    cut = events.index(UNPLUGGED)
    path = tmp_path / "usb-reader-event-kbd"
    path.touch()
    unplugged = OSError(errno.ENODEV, "No such device")
    devices = iter(
        [
            fake_device(str(path), events[:cut], then=unplugged),
            fake_device(str(path), events[cut + 1 :]),
        ]
    )
    sleeps = Sleeps()
    reader = WedgeBadgeReader(
        settings(device_path=path),
        open_device=lambda _: next(devices),
        sleep=sleeps,
        rng=WholeSteps(),
    )
    async with reader:
        reads = await take(reader, 1)
        assert reader.health.state is ReaderState.READY
    # The half-typed id before the unplug never reaches the agent.
    assert [r.raw for r in reads] == ["0305897988"]
    assert reader.decoder.drops.unplugged == 1
    assert sleeps.delays == [0.5]
    assert "went away" in (reader.health.last_error or "")


async def test_missing_reader_is_retried_with_growing_backoff(tmp_path: Path) -> None:
    path = tmp_path / "not-plugged-in"
    sleeps = Sleeps()
    reader = WedgeBadgeReader(settings(device_path=path), sleep=sleeps, rng=WholeSteps())
    async with reader:
        await until(lambda: len(sleeps.delays) >= 5)
        health = reader.health
    assert health.state is ReaderState.UNAVAILABLE
    assert f"no reader at {path}: plug it in" in health.detail
    assert sleeps.delays[:5] == [0.5, 1.0, 2.0, 4.0, 4.0]


async def test_permission_denied_says_which_group(tmp_path: Path) -> None:
    path = tmp_path / "event-kbd"
    path.touch()

    def denied(_: str) -> Any:
        raise PermissionError(errno.EACCES, "Permission denied")

    reader = WedgeBadgeReader(settings(device_path=path), open_device=denied, sleep=Sleeps())
    async with reader:
        await wait_for_state(reader, ReaderState.UNAVAILABLE)
        detail = reader.health.detail
    assert "permission denied" in detail
    assert "`input` group" in detail


async def test_device_grabbed_elsewhere(tmp_path: Path) -> None:
    path = tmp_path / "event-kbd"
    path.touch()
    device = fake_device(str(path))
    device.grab.side_effect = OSError(errno.EBUSY, "Device or resource busy")
    reader = WedgeBadgeReader(
        settings(device_path=path), open_device=lambda _: device, sleep=Sleeps()
    )
    async with reader:
        await wait_for_state(reader, ReaderState.UNAVAILABLE)
        detail = reader.health.detail
    assert "grabbed by another program" in detail
    device.close.assert_called()


async def test_finds_the_reader_by_name_and_usb_id() -> None:
    keyboard = fake_device("/dev/input/event2", name="AT Translated Set 2 keyboard")
    other_reader = fake_device("/dev/input/event4", usb=(0x08FF, 0x0009))
    wanted = fake_device(
        "/dev/input/event5", load_recording("us_decimal_two_taps"), usb=(0xFFFF, 0x0035)
    )
    by_path = {d.path: d for d in (keyboard, other_reader, wanted)}
    reader = WedgeBadgeReader(
        settings(device_name="sycreader", usb_id="ffff:0035"),
        open_device=lambda path: by_path[path],
        list_devices=lambda: sorted(by_path),
    )
    async with reader:
        reads = await take(reader, 1)
    assert reads[0].badge_id == "04A23B12"
    wanted.grab.assert_called_once_with()
    keyboard.grab.assert_not_called()
    other_reader.grab.assert_not_called()


async def test_no_matching_device_explains() -> None:
    keyboard = fake_device("/dev/input/event2", name="AT Translated Set 2 keyboard")
    reader = WedgeBadgeReader(
        settings(device_name="sycreader"),
        open_device=lambda _: keyboard,
        list_devices=lambda: ["/dev/input/event2"],
        sleep=Sleeps(),
    )
    async with reader:
        await wait_for_state(reader, ReaderState.UNAVAILABLE)
        detail = reader.health.detail
    assert "no input device matches evdev:name~'sycreader'" in detail


async def test_wrong_layout_is_reported_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "event-kbd"
    path.touch()
    device = fake_device(str(path), load_recording("fr_azerty_reader"))
    reader = WedgeBadgeReader(
        settings(BadgeRules(), device_path=path), open_device=lambda _: device
    )
    async with reader:
        await until(lambda: reader.health.rejected >= 2)
        health = reader.health
    assert health.reads == 0
    assert "set the reader's layout to 'fr'" in (health.last_error or "")


def test_a_reader_needs_a_way_to_find_it() -> None:
    with pytest.raises(BadgeReaderError, match="no keyboard-wedge reader configured"):
        WedgeBadgeReader(settings())
