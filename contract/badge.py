"""Badge identity: the one canonical form every badge reader's output is turned into.

The same card reads differently on different readers: a PC/SC reader returns the UID bytes,
a keyboard-wedge reader types them as hex, as a 10-digit decimal number (often with the
bytes reversed), or as a Wiegand facility code and card number. Members are matched by badge
id in the cloud and in the kiosk's offline cache, so both sides must turn all of these into
one string. This module is that function; it imports nothing heavier than pydantic because
the cloud imports it too.

Canonical form: the identifying bytes as uppercase hexadecimal, most significant byte first
in the order the card transmits its UID (the order PC/SC ``FF CA 00 00 00`` returns), with no
separators and no prefix: ``04A23B1C`` for a 4-byte UID, 14 characters for 7 bytes, 20 for
10 bytes. A Wiegand 26 number keeps its 24 data bits (facility byte, then the two card-number
bytes): ``7B1F4E``; a Wiegand 34 number its 32 data bits. Between 3 and 10 bytes are accepted.

How a reader writes its ids is configuration (:class:`BadgeRules`), never guessed: "1234"
is a valid decimal number and valid hexadecimal, and only the installer knows which one the
reader meant.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

MIN_BADGE_BYTES = 3
MAX_BADGE_BYTES = 10
# ISO 14443 UIDs are 4, 7 or 10 bytes: the sizes a decimal number is widened to by default.
ISO14443_UID_SIZES = (4, 7, 10)

CANONICAL_BADGE_ID_PATTERN = r"^(?:[0-9A-F]{2}){3,10}$"
_CANONICAL = re.compile(CANONICAL_BADGE_ID_PATTERN)

CanonicalBadgeId = Annotated[str, StringConstraints(pattern=CANONICAL_BADGE_ID_PATTERN)]
"""A badge id already in canonical form, for wire models: validated, never rewritten."""

# What a badge lookup accepts (the default rules' hex, written as readers and people do:
# `04A23B1C`, `04:a2:3b:1c`, `0x04a23b1c`), exactly: `read_badge_input` refuses the rest.
BADGE_INPUT_PATTERN = r"^[:. -]*(?:0[xX][:. -]*)?(?:[0-9A-Fa-f][:. -]*){5,20}$"
_BADGE_INPUT = re.compile(BADGE_INPUT_PATTERN)

_WIEGAND_FACILITY_SEPARATORS = ",/"
_HEX_DIGITS = frozenset("0123456789ABCDEF")


class BadgeIdError(ValueError):
    """A reader's output cannot be read as a badge id under the configured rules."""


class BadgeEncoding(StrEnum):
    """How a reader writes the id."""

    HEX = "hex"
    """Hexadecimal digits of the UID bytes (``04:A2:3B:1C``, ``04a23b1c``)."""
    DECIMAL = "decimal"
    """The UID bytes read as one unsigned decimal number (``0305897988``)."""
    WIEGAND26 = "wiegand26"
    """8-bit facility code and 16-bit card number (``123,45678``) or their 24-bit number."""
    WIEGAND34 = "wiegand34"
    """16-bit facility code and 16-bit card number, or their 32-bit number."""


class ByteOrder(StrEnum):
    """Order of the UID bytes in what the reader writes."""

    MSB_FIRST = "msb_first"
    """As the card transmits them (and as PC/SC returns them)."""
    LSB_FIRST = "lsb_first"
    """Reversed: common on keyboard-wedge readers that print the UID as a little-endian
    number (``0305897988`` for UID ``04 A2 3B 12``)."""


class BadgeRules(BaseModel):
    """How one reader model writes badge ids; the installer picks these per kiosk.

    The defaults read canonical ids unchanged, so ``normalize_badge_id`` is idempotent on its
    own output.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    encoding: BadgeEncoding = Field(
        default=BadgeEncoding.HEX, description="How the reader writes the id."
    )
    byte_order: ByteOrder = Field(
        default=ByteOrder.MSB_FIRST, description="Whether the reader reverses the UID bytes."
    )
    uid_bytes: int | None = Field(
        default=None,
        ge=MIN_BADGE_BYTES,
        le=MAX_BADGE_BYTES,
        description=(
            "Length of the id in bytes. Hex: pad dropped leading zeros or strip zero padding "
            "to this length. Decimal: width of the number; unset means the smallest of 4, 7 "
            "or 10 bytes that holds it. Ignored for Wiegand (3 or 4 bytes by definition)."
        ),
    )
    separators: str = Field(
        default=":- .",
        description="Characters ignored between digits (hex pairs, grouped decimal digits).",
    )
    wiegand_split_digits: bool = Field(
        default=False,
        description=(
            "Wiegand only: undelimited digits are facility code then card number, each "
            "zero-padded (3+5 digits for Wiegand 26, 5+5 for Wiegand 34), rather than the "
            "combined number."
        ),
    )
    wiegand_parity: bool = Field(
        default=False,
        description=(
            "Wiegand only: the number is the whole 26- or 34-bit frame including its leading "
            "even and trailing odd parity bits, which are checked and removed."
        ),
    )


DEFAULT_BADGE_RULES = BadgeRules()


def is_canonical_badge_id(value: str) -> bool:
    """True when ``value`` is already a canonical badge id."""
    return _CANONICAL.fullmatch(value) is not None


def read_badge_input(text: str) -> str:
    """The canonical id of a badge id sent to the API (BADGE_INPUT_PATTERN), or BadgeIdError."""
    if _BADGE_INPUT.fullmatch(text) is None:
        raise BadgeIdError(
            f"badge {_quoted(text)} is not 3 to 10 bytes of hexadecimal "
            "(separators ':', '.', '-' and spaces allowed)"
        )
    return normalize_badge_id(text)


def badge_id_from_uid(uid: bytes) -> str:
    """Canonical id of UID bytes as the card transmits them (what PC/SC returns)."""
    if not MIN_BADGE_BYTES <= len(uid) <= MAX_BADGE_BYTES:
        raise BadgeIdError(
            f"a badge UID has {MIN_BADGE_BYTES} to {MAX_BADGE_BYTES} bytes, got {len(uid)} "
            f"({uid.hex().upper() or 'empty'}): the reader returned something that is not a UID"
        )
    return uid.hex().upper()


def normalize_badge_id(raw: str, rules: BadgeRules = DEFAULT_BADGE_RULES) -> str:
    """The canonical id of what a reader emitted, read with that reader's ``rules``.

    Raises :class:`BadgeIdError` with a message saying what was wrong and which rule to
    change when the text does not fit the rules.
    """
    text = raw.strip()
    if not text:
        raise BadgeIdError("the badge id is empty: the reader sent only whitespace")
    if rules.encoding is BadgeEncoding.HEX:
        uid = _hex_bytes(text, rules)
    elif rules.encoding is BadgeEncoding.DECIMAL:
        uid = _decimal_bytes(text, rules)
    else:
        uid = _wiegand_bytes(text, rules)
    if rules.byte_order is ByteOrder.LSB_FIRST:
        uid = uid[::-1]
    return badge_id_from_uid(uid)


def _strip_separators(text: str, separators: str) -> str:
    return text.translate({ord(c): None for c in separators})


def _hex_bytes(text: str, rules: BadgeRules) -> bytes:
    digits = _strip_separators(text, rules.separators).upper()
    if digits.startswith("0X"):
        digits = digits[2:]
    bad = sorted(set(digits) - _HEX_DIGITS)
    if bad or not digits:
        raise BadgeIdError(
            f"badge {_quoted(text)} is not hexadecimal (unexpected {''.join(bad)!r}); "
            "if this reader writes decimal numbers or Wiegand codes, set the reader's "
            "badge encoding to 'decimal' or 'wiegand26'/'wiegand34'"
        )
    if len(digits) % 2:
        # Readers that print the UID as a number drop the leading zero nibble.
        digits = "0" + digits
    uid = bytes.fromhex(digits)
    if rules.uid_bytes is None:
        return uid
    return _fit_length(uid, rules.uid_bytes, text)


def _fit_length(uid: bytes, size: int, text: str) -> bytes:
    """Pad or strip zero bytes on the left of the id as written.

    Padding is on the left even for reversed ids: readers pad the number they print.
    """
    if len(uid) < size:
        return bytes(size - len(uid)) + uid
    excess = len(uid) - size
    if any(uid[:excess]):
        raise BadgeIdError(
            f"badge {_quoted(text)} has {len(uid)} bytes but the reader is configured for "
            f"{size}-byte ids; set uid_bytes to {len(uid)} or leave it unset"
        )
    return uid[excess:]


def _decimal_bytes(text: str, rules: BadgeRules) -> bytes:
    value = _decimal_value(text, rules)
    return _int_bytes(value, rules.uid_bytes, text)


def _decimal_value(text: str, rules: BadgeRules) -> int:
    digits = _strip_separators(text, rules.separators)
    if not digits.isascii() or not digits.isdigit():
        raise BadgeIdError(
            f"badge {_quoted(text)} is not a decimal number; if this reader writes "
            "hexadecimal (letters A-F), set the reader's badge encoding to 'hex'"
        )
    return int(digits)


def _int_bytes(value: int, size: int | None, text: str) -> bytes:
    needed = max(1, (value.bit_length() + 7) // 8)
    if size is None:
        fitting = [s for s in ISO14443_UID_SIZES if s >= needed]
        if not fitting:
            raise BadgeIdError(
                f"badge {_quoted(text)} is larger than a 10-byte UID: check the reader's "
                "badge encoding"
            )
        size = fitting[0]
    if needed > size:
        raise BadgeIdError(
            f"badge {_quoted(text)} needs {needed} bytes but the reader is configured for "
            f"{size}-byte ids; set uid_bytes to {needed} or leave it unset"
        )
    return value.to_bytes(size, "big")


def _wiegand_bytes(text: str, rules: BadgeRules) -> bytes:
    wide = rules.encoding is BadgeEncoding.WIEGAND34
    # Wiegand 26 carries an 8-bit facility code, Wiegand 34 a 16-bit one; both a 16-bit card.
    facility_bits = 16 if wide else 8
    facility_digits = 5 if wide else 3
    name = "Wiegand 34" if wide else "Wiegand 26"
    payload_bits = facility_bits + 16

    body = text.strip()
    split_at = _facility_separator(body, rules)
    if split_at is not None:
        facility = _decimal_value(body[:split_at], rules)
        card = _decimal_value(body[split_at + 1 :], rules)
    else:
        digits = _strip_separators(body, rules.separators)
        if rules.wiegand_split_digits:
            if len(digits) != facility_digits + 5:
                raise BadgeIdError(
                    f"badge {_quoted(text)} should be {facility_digits + 5} digits "
                    f"({facility_digits} of facility code, 5 of card number) for {name}"
                )
            facility = _decimal_value(digits[:facility_digits], rules)
            card = _decimal_value(digits[facility_digits:], rules)
        else:
            number = _decimal_value(digits, rules)
            if rules.wiegand_parity:
                number = _strip_parity(number, payload_bits, text, name)
            if number >= 1 << payload_bits:
                raise BadgeIdError(
                    f"badge {_quoted(text)} does not fit in {payload_bits} bits, so it is not "
                    f"a {name} number; if it includes parity bits, set wiegand_parity"
                )
            return number.to_bytes(payload_bits // 8, "big")
    if facility >= 1 << facility_bits:
        raise BadgeIdError(
            f"facility code {facility} in badge {_quoted(text)} is larger than {name} "
            f"allows ({(1 << facility_bits) - 1})"
        )
    if card > 0xFFFF:
        raise BadgeIdError(
            f"card number {card} in badge {_quoted(text)} is larger than {name} allows (65535)"
        )
    return ((facility << 16) | card).to_bytes(payload_bits // 8, "big")


def _facility_separator(body: str, rules: BadgeRules) -> int | None:
    """Position of the character between facility code and card number, if one is written."""
    candidates = _WIEGAND_FACILITY_SEPARATORS + rules.separators
    positions = [i for i, c in enumerate(body) if c in candidates]
    if not positions:
        return None
    if len(positions) > 1:
        raise BadgeIdError(
            f"badge {_quoted(body)} has more than one separator; a Wiegand code is written "
            "facility,card (for example 123,45678)"
        )
    return positions[0]


def _strip_parity(frame: int, payload_bits: int, text: str, name: str) -> int:
    frame_bits = payload_bits + 2
    if frame >= 1 << frame_bits:
        raise BadgeIdError(f"badge {_quoted(text)} does not fit in a {frame_bits}-bit {name} frame")
    half = payload_bits // 2
    payload = (frame >> 1) & ((1 << payload_bits) - 1)
    leading = frame >> (frame_bits - 1)
    trailing = frame & 1
    first_half = payload >> half
    second_half = payload & ((1 << half) - 1)
    # The leading bit makes the first half even, the trailing bit makes the second half odd.
    even_ok = (leading + first_half.bit_count()) % 2 == 0
    odd_ok = (trailing + second_half.bit_count()) % 2 == 1
    if not (even_ok and odd_ok):
        raise BadgeIdError(
            f"badge {_quoted(text)} fails the {name} parity check: the read was corrupted, "
            "or the reader does not send parity bits (unset wiegand_parity)"
        )
    return payload


def _quoted(text: str) -> str:
    """How a reader's output is quoted in messages: short and with invisible characters shown."""
    shown = text if len(text) <= 40 else text[:37] + "..."
    return repr(shown)
