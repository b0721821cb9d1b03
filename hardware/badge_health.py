"""What a badge reader reports about itself, and what its reports say about its setup.

Sans I/O. A reader keeps a :class:`ReaderHealth` (its state, what it handed over, what it
threw away and why, and the *shapes* of its recent raw reads); :func:`reader_advice` reads
that health against the reader's rules and says, in a sentence an installer can act on, when
the reader is probably set up wrong:

- every recent id is a 10-digit decimal number while the rules say hex: a decimal reader
  left on the default rules, whose ids are read as (wrong) hex ids, silently;
- keys arrive but no id ever ends: the reader sends no suffix, or one the kiosk does not
  take as the end of an id (Enter and Tab are).

A *shape* keeps the kind and length of what the reader typed (``decimal:10``, ``hex:8``),
never the digits: it says enough to diagnose rules and nothing about who tapped.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from contract.badge import BadgeEncoding
from hardware.settings import BadgeReaderSettings, ReaderKind

RECENT_SHAPES = 20
"""Raw reads whose shapes a reader remembers."""

# Characters readers put between digits; never part of the id (see BadgeRules.separators).
_SEPARATORS = ":- ."
_HEX_LETTERS = frozenset("ABCDEFabcdef")
_HEX = frozenset(string.hexdigits)


class ReaderState(StrEnum):
    """Where a reader is in its life, as a heartbeat reports it."""

    STARTING = "starting"
    READY = "ready"
    """Open and listening."""
    UNAVAILABLE = "unavailable"
    """Absent, unplugged or its service is down: retrying with backoff (see ``detail``)."""
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class DropCounts:
    """Partial ids a keyboard-wedge decoder threw away, by reason."""

    gap: int = 0
    """Keys stopped for longer than the inter-key timeout (a half-read card, a person
    typing, or a reader that sends no suffix)."""
    garbage: int = 0
    """A key that no badge contains (arrows, function keys...) was pressed."""
    too_long: int = 0
    unplugged: int = 0

    @property
    def total(self) -> int:
        return self.gap + self.garbage + self.too_long + self.unplugged


@dataclass(frozen=True, slots=True)
class ReaderHealth:
    """A snapshot of a reader's health for heartbeats and `jarvis-kiosk doctor`."""

    state: ReaderState
    detail: str
    """What a person should know: which device is open, or why none is and what to do."""
    reads: int = 0
    """Badges handed to the agent."""
    rejected: int = 0
    """Reads whose text did not fit the badge rules."""
    dropped: DropCounts = field(default_factory=DropCounts)
    last_read_at: datetime | None = None
    last_error: str | None = None
    recent_shapes: tuple[str, ...] = ()
    """Shapes of the latest raw text reads, oldest first (see :func:`badge_shape`)."""


def badge_shape(raw: str) -> str:
    """The kind and length of what a reader typed, without its digits.

    ``decimal:N`` (digits only), ``hex:N`` (hex digits with at least one letter),
    ``pair:F,C`` (two groups of digits around a comma or slash, as Wiegand readers print
    facility and card), ``other:N`` (anything else); separators are not counted.
    """
    text = raw.strip()
    for mark in ",/":
        if text.count(mark) == 1:
            left, right = (part.strip() for part in text.split(mark))
            if left.isdigit() and right.isdigit() and left.isascii() and right.isascii():
                return f"pair:{len(left)},{len(right)}"
    digits = text.translate({ord(c): None for c in _SEPARATORS})
    if digits[:2] in ("0x", "0X"):
        digits = digits[2:]
    if digits and digits.isascii() and digits.isdigit():
        return f"decimal:{len(digits)}"
    if digits and set(digits) <= _HEX and set(digits) & _HEX_LETTERS:
        return f"hex:{len(digits)}"
    return f"other:{len(digits)}"


def reader_advice(settings: BadgeReaderSettings, health: ReaderHealth) -> str | None:
    """What the installer should change, when the health says the setup is wrong."""
    if settings.kind is ReaderKind.PCSC:
        return None  # UID bytes: no text, so no rules and no suffix to get wrong
    shapes = health.recent_shapes
    if (
        settings.rules.encoding is BadgeEncoding.HEX
        and shapes
        and all(s == "decimal:10" for s in shapes)
    ):
        count = (
            "the only badge read so far is"
            if len(shapes) == 1
            else f"all {len(shapes)} recent badges are"
        )
        return (
            f"{count} a 10-digit decimal number but the reader's rules say hex, so each id "
            "is read as the wrong hex id and members are not recognised: set "
            "JARVIS_KIOSK_BADGE__RULES__ENCODING=decimal (and BYTE_ORDER=lsb_first if ids "
            "still differ from the cards' UIDs; see docs/HARDWARE.md)"
        )
    if health.reads == 0 and health.rejected == 0 and health.dropped.gap >= 2:
        return (
            f"keys arrived {health.dropped.gap} times but no badge id ever ended: the reader "
            "sends no suffix, or one the kiosk does not end an id on; set the reader's "
            "suffix to Enter (or Tab) with its configuration tool"
        )
    return None
