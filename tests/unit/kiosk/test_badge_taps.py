"""One debounce, the state machine's: recorded reader sessions through the decoder and the
badge rules into the machine, as the agent runs them."""

from __future__ import annotations

from datetime import UTC, datetime

from evdev import InputEvent

from contract.badge import BadgeEncoding, BadgeRules, ByteOrder, normalize_badge_id
from hardware.wedge_decoder import WedgeDecoder
from kiosk_agent.core.machine import (
    AgentStarted,
    BadgeTapped,
    CloudReachable,
    KioskMachine,
    LookupMember,
    Moment,
)
from tests.unit.hardware.evtest_recordings import load_recording

DECIMAL_REVERSED = BadgeRules(encoding=BadgeEncoding.DECIMAL, byte_order=ByteOrder.LSB_FIRST)
A, B = "04A23B12", "123BA204"


def lookups(recording: str, machine: KioskMachine) -> list[str]:
    """Badges the machine asks the cloud about while the recording plays."""
    machine.handle(AgentStarted(Moment(datetime.now(UTC), 0.0), provisioned=True, store_ok=True))
    machine.handle(CloudReachable(Moment(datetime.now(UTC), 0.0)))
    decoder = WedgeDecoder()
    asked = []
    for event in load_recording(recording):
        assert isinstance(event, InputEvent)
        typed = decoder.feed(event)
        if typed is None:
            continue
        at = Moment(datetime.fromtimestamp(event.timestamp(), UTC), event.timestamp())
        tap = BadgeTapped(at, normalize_badge_id(typed.text, DECIMAL_REVERSED))
        asked += [e.badge_id for e in machine.handle(tap) if isinstance(e, LookupMember)]
    return asked


def test_repeated_taps_of_one_card_are_one_tap() -> None:
    machine = KioskMachine(debounce_s=5.0)
    # A three times in 0.6 s, B, A again (a different badge from the last: a new tap), and
    # A 4 s later: within 5 s of its previous read, so a repeat.
    assert lookups("fast_repeated_taps", machine) == [A, B, A]
    assert machine.repeats_ignored == 3


def test_a_shorter_window_lets_the_late_tap_through() -> None:
    machine = KioskMachine(debounce_s=3.0)
    # The late A is a tap now, but A's check is still running: it is not asked twice.
    assert lookups("fast_repeated_taps", machine) == [A, B, A]
    assert machine.repeats_ignored == 2
