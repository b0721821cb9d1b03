"""Reader problems are visible: recorded evdev sessions in, counters, shapes and advice out.

The decoder counts the partial ids it drops; the reader reports them with the shapes of its
recent reads; ``reader_advice`` turns both into what an installer should change.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from evdev import InputEvent
from eventually import until
from evtest_recordings import load_recording
from test_badge_wedge_reader import fake_device, settings

from contract.badge import BadgeEncoding, BadgeRules, ByteOrder
from hardware.badge_health import DropCounts, ReaderHealth, ReaderState, badge_shape, reader_advice
from hardware.badge_wedge import WedgeBadgeReader
from hardware.settings import BadgeReaderSettings, ReaderKind
from hardware.wedge_decoder import WedgeDecoder

DECIMAL_REVERSED = BadgeRules(encoding=BadgeEncoding.DECIMAL, byte_order=ByteOrder.LSB_FIRST)


def typed(name: str) -> tuple[list[str], WedgeDecoder]:
    decoder = WedgeDecoder()
    texts = []
    for event in load_recording(name):
        assert isinstance(event, InputEvent)
        badge = decoder.feed(event)
        if badge is not None:
            texts.append(badge.text)
    return texts, decoder


def test_a_tab_ends_an_id_like_enter() -> None:
    texts, decoder = typed("us_decimal_tab_suffix")
    assert texts == ["0305897988", "0077740818"]
    assert decoder.drops == DropCounts()


def test_a_reader_with_no_suffix_delivers_nothing_and_its_ids_are_counted_as_gaps() -> None:
    texts, decoder = typed("us_decimal_no_suffix")
    assert texts == []
    # Each id is dropped when the next card's first key comes long after its last one.
    assert decoder.drops == DropCounts(gap=2)


@pytest.mark.parametrize(
    ("raw", "shape"),
    [
        ("0305897988", "decimal:10"),
        ("04:A2:3B:12", "hex:8"),
        ("0x04a23b12", "hex:8"),
        ("04 5C 8A 22 9F 61 80", "hex:14"),
        ("12345678", "decimal:8"),
        ("188,24910", "pair:3,5"),
        (")#)%*(&(**", "other:10"),
        ("", "other:0"),
    ],
)
def test_a_shape_keeps_the_kind_and_length_never_the_digits(raw: str, shape: str) -> None:
    assert badge_shape(raw) == shape


def health(**values: object) -> ReaderHealth:
    return ReaderHealth(state=ReaderState.READY, detail="", **values)  # type: ignore[arg-type]


def wedge(rules: BadgeRules | None = None) -> BadgeReaderSettings:
    return BadgeReaderSettings(kind=ReaderKind.EVDEV, rules=rules or BadgeRules())


def test_a_decimal_reader_left_on_hex_rules_is_called_out() -> None:
    shapes = ("decimal:10",) * 3
    advice = reader_advice(wedge(), health(reads=3, recent_shapes=shapes))
    assert advice is not None
    assert "all 3 recent badges are a 10-digit decimal number" in advice
    assert "JARVIS_KIOSK_BADGE__RULES__ENCODING=decimal" in advice
    # Set right, or with one real hex id among them, or on a PC/SC reader: nothing to say.
    assert reader_advice(wedge(DECIMAL_REVERSED), health(reads=3, recent_shapes=shapes)) is None
    mixed = health(reads=3, recent_shapes=("decimal:10", "hex:8", "decimal:10"))
    assert reader_advice(wedge(), mixed) is None
    pcsc = BadgeReaderSettings(kind=ReaderKind.PCSC)
    assert reader_advice(pcsc, health(reads=3, recent_shapes=shapes)) is None


def test_keys_that_never_end_an_id_are_called_out() -> None:
    advice = reader_advice(wedge(), health(dropped=DropCounts(gap=2)))
    assert advice is not None
    assert "suffix to Enter (or Tab)" in advice
    assert reader_advice(wedge(), health(reads=1, dropped=DropCounts(gap=2))) is None
    assert reader_advice(wedge(), health(dropped=DropCounts(gap=1))) is None


async def test_the_reader_reports_what_its_decoder_dropped_and_its_read_shapes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "event-kbd"
    path.touch()
    events = load_recording("garbage_between_taps") + load_recording("us_decimal_two_taps")
    device = fake_device(str(path), events)
    reader = WedgeBadgeReader(
        settings(BadgeRules(), device_path=path), open_device=lambda _: device
    )
    async with reader:
        await until(lambda: reader.health.reads == 4)
        report = reader.health
    assert report.dropped == DropCounts(gap=2, garbage=1)
    # On the default (hex) rules a decimal reader's ids are accepted, wrongly: only the
    # shapes give it away.
    assert report.recent_shapes == ("decimal:10",) * 4
    assert reader_advice(wedge(), report) is not None


async def test_a_reader_with_no_suffix_is_diagnosed_from_its_health(tmp_path: Path) -> None:
    path = tmp_path / "event-kbd"
    path.touch()
    device = fake_device(str(path), load_recording("us_decimal_no_suffix"))
    reader = WedgeBadgeReader(settings(device_path=path), open_device=lambda _: device)
    async with reader:
        await until(lambda: reader.health.dropped.gap == 2)
        await asyncio.sleep(0)
        report = reader.health
    assert report.reads == 0
    advice = reader_advice(wedge(DECIMAL_REVERSED), report)
    assert advice is not None
    assert "no badge id ever ended" in advice
