"""Keyboard-wedge decoding from recorded evdev event sequences (there is no /dev/uinput here)."""

from __future__ import annotations

from evdev import InputEvent, ecodes
from evtest_recordings import UNPLUGGED, Recording, load_recording

from contract.badge import BadgeEncoding, BadgeRules, ByteOrder, normalize_badge_id
from hardware.settings import KeyLayout
from hardware.wedge_decoder import MAX_TYPED_LENGTH, WedgeDecoder

DECIMAL_REVERSED = BadgeRules(encoding=BadgeEncoding.DECIMAL, byte_order=ByteOrder.LSB_FIRST)


def typed_texts(decoder: WedgeDecoder, events: Recording) -> list[str]:
    texts = []
    for event in events:
        if event == UNPLUGGED:
            decoder.device_lost()
            continue
        assert isinstance(event, InputEvent)
        typed = decoder.feed(event)
        if typed is not None:
            texts.append(typed.text)
    return texts


def badge_ids(events: Recording, rules: BadgeRules) -> list[str]:
    """What the reader hands the agent: decoder, then normalization."""
    return [normalize_badge_id(text, rules) for text in typed_texts(WedgeDecoder(), events)]


def key(code: int, value: int, at: float) -> InputEvent:
    sec = int(at)
    return InputEvent(sec, round((at - sec) * 1_000_000), ecodes.EV_KEY, code, value)


def test_decimal_reader() -> None:
    events = load_recording("us_decimal_two_taps")
    assert typed_texts(WedgeDecoder(), events) == ["0305897988", "0077740818"]
    assert badge_ids(events, DECIMAL_REVERSED) == ["04A23B12", "123BA204"]


def test_shifted_hex_with_separators() -> None:
    events = load_recording("us_hex_shifted")
    assert typed_texts(WedgeDecoder(), events) == ["04:A2:3B:12", "045C8A229F6180"]
    assert badge_ids(events, BadgeRules()) == ["04A23B12", "045C8A229F6180"]


def test_azerty_reader_reads_with_the_fr_layout() -> None:
    events = load_recording("fr_azerty_reader")
    assert typed_texts(WedgeDecoder(layout=KeyLayout.FR), events) == [
        "0305897988",
        "04:A2:3B:12",
    ]
    # Under the default layout the same keys are punctuation, never a wrong badge id.
    us_texts = typed_texts(WedgeDecoder(), events)
    assert us_texts[0] == ")#)%*(&(**"


def test_garbage_between_taps_is_dropped() -> None:
    decoder = WedgeDecoder()
    texts = typed_texts(decoder, load_recording("garbage_between_taps"))
    assert texts == ["0305897988", "0077740818"]
    # The half-read card and the lone key pressed before a pause; the id hit by F5.
    assert (decoder.drops.gap, decoder.drops.garbage) == (2, 1)


def test_unplug_mid_badge_forgets_the_partial_id() -> None:
    decoder = WedgeDecoder(inter_key_timeout_s=10.0)  # so only the unplug can drop it
    assert typed_texts(decoder, load_recording("unplug_mid_badge")) == ["0305897988"]
    assert decoder.drops.unplugged == 1


def test_unplug_while_shift_is_held_releases_shift() -> None:
    decoder = WedgeDecoder(inter_key_timeout_s=10.0)
    decoder.feed(key(ecodes.KEY_LEFTSHIFT, 1, 1.0))
    decoder.feed(key(ecodes.KEY_SEMICOLON, 1, 1.01))
    decoder.device_lost()  # the key-up for Shift never comes
    for i, code in enumerate([ecodes.KEY_1, ecodes.KEY_SEMICOLON, ecodes.KEY_ENTER]):
        typed = decoder.feed(key(code, 1, 2.0 + i / 100))
    assert typed is not None
    assert typed.text == "1;"


def test_fast_repeated_taps_are_each_decoded() -> None:
    # Which of them are repeats is the state machine's call (tests/unit/kiosk/test_badge_taps.py).
    events = load_recording("fast_repeated_taps")
    assert badge_ids(events, DECIMAL_REVERSED) == ["04A23B12"] * 3 + [
        "123BA204",
        "04A23B12",
        "04A23B12",
    ]


def test_slow_typing_never_completes_a_badge() -> None:
    decoder = WedgeDecoder(inter_key_timeout_s=0.2)
    codes = [ecodes.KEY_1, ecodes.KEY_2, ecodes.KEY_3, ecodes.KEY_ENTER]
    results = [decoder.feed(key(code, 1, 10.0 + i * 0.5)) for i, code in enumerate(codes)]
    assert results == [None, None, None, None]
    assert decoder.drops.gap == 3


def test_overlong_input_is_dropped_whole() -> None:
    decoder = WedgeDecoder()
    events = [key(ecodes.KEY_7, 1, 1.0 + i * 0.001) for i in range(MAX_TYPED_LENGTH + 5)]
    events.append(key(ecodes.KEY_ENTER, 1, 1.1))
    assert [decoder.feed(event) for event in events] == [None] * len(events)
    assert decoder.drops.too_long == 1


def test_keys_carry_shift_state_for_rereading() -> None:
    decoder = WedgeDecoder()
    decoder.feed(key(ecodes.KEY_LEFTSHIFT, 1, 1.0))
    decoder.feed(key(ecodes.KEY_A, 1, 1.001))
    decoder.feed(key(ecodes.KEY_LEFTSHIFT, 0, 1.002))
    decoder.feed(key(ecodes.KEY_B, 1, 1.003))
    typed = decoder.feed(key(ecodes.KEY_ENTER, 1, 1.004))
    assert typed is not None
    assert typed.keys == ((ecodes.KEY_A, True), (ecodes.KEY_B, False))
