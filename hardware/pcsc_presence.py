"""Sans-I/O card presence for PC/SC readers: successive scans in, tap events out.

A PC/SC reader is polled: each scan says, per connected reader, whether a card is on it and
its UID. A card resting on the reader shows up in every scan but is one tap; taking it off
and putting it back is a second tap. Readers appear and disappear (USB hot-plug). This
module turns scans into those events so the adapter stays a thin loop around pyscard.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

GET_UID_APDU = (0xFF, 0xCA, 0x00, 0x00, 0x00)
"""PC/SC part 3 GET DATA: the UID of the contactless card, whole (4, 7 or 10 bytes)."""
SW_SUCCESS = (0x90, 0x00)

_STATUS_MEANINGS = {
    (0x62, 0x82): "end of data reached before Le bytes",
    (0x63, 0x00): "the reader could not read the card (moved too fast?)",
    (0x6A, 0x81): "the reader does not support GET UID for this card type",
    (0x6B, 0x00): "wrong parameters P1-P2",
    (0x6C, 0x00): "wrong length Le",
}


@dataclass(frozen=True, slots=True)
class CardAbsent:
    """No card on the reader."""


@dataclass(frozen=True, slots=True)
class CardUid:
    """A card whose UID was read."""

    uid: bytes


@dataclass(frozen=True, slots=True)
class CardUnreadable:
    """A card is there but its UID could not be read; ``reason`` says why, for a person."""

    reason: str


CardScan = CardAbsent | CardUid | CardUnreadable
"""What one scan saw on one reader."""


@dataclass(frozen=True, slots=True)
class ReaderAdded:
    reader: str


@dataclass(frozen=True, slots=True)
class ReaderRemoved:
    reader: str


@dataclass(frozen=True, slots=True)
class CardPresented:
    """A card arrived on a reader: one tap."""

    reader: str
    uid: bytes


@dataclass(frozen=True, slots=True)
class CardRejected:
    """A card arrived but could not be read; reported once per presentation."""

    reader: str
    reason: str


PresenceEvent = ReaderAdded | ReaderRemoved | CardPresented | CardRejected


def status_word_problem(sw1: int, sw2: int) -> str:
    """Why a GET UID answer is not a UID, in words."""
    meaning = _STATUS_MEANINGS.get((sw1, sw2)) or _STATUS_MEANINGS.get((sw1, 0x00))
    text = f"the card answered {sw1:02X} {sw2:02X} to GET UID (FF CA 00 00 00), not 90 00"
    return f"{text}: {meaning}" if meaning else text


@dataclass(slots=True)
class CardPresence:
    """Remembers what each reader held at the last scan."""

    _last: dict[str, CardScan] = field(default_factory=dict)

    @property
    def readers(self) -> list[str]:
        return sorted(self._last)

    def update(self, scan: Mapping[str, CardScan]) -> list[PresenceEvent]:
        """Events between the previous scan and this one (readers missing from it are gone)."""
        events: list[PresenceEvent] = [
            ReaderRemoved(name) for name in sorted(self._last) if name not in scan
        ]
        for name in sorted(scan):
            now = scan[name]
            before = self._last.get(name)
            if before is None:
                events.append(ReaderAdded(name))
            if now == before:
                continue
            if isinstance(now, CardUid):
                events.append(CardPresented(name, now.uid))
            elif isinstance(now, CardUnreadable) and not isinstance(before, CardUnreadable):
                events.append(CardRejected(name, now.reason))
        self._last = dict(scan)
        return events

    def reset(self) -> list[PresenceEvent]:
        """The service went away: every reader is gone, and every card with it."""
        return self.update({})
