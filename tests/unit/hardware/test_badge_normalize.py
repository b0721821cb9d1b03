"""Badge id normalization: what real readers emit becomes one canonical id."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from contract.badge import (
    DEFAULT_BADGE_RULES,
    BadgeEncoding,
    BadgeIdError,
    BadgeRules,
    ByteOrder,
    CanonicalBadgeId,
    badge_id_from_uid,
    is_canonical_badge_id,
    normalize_badge_id,
)

HEX = BadgeRules()
HEX_REVERSED = BadgeRules(byte_order=ByteOrder.LSB_FIRST)
DECIMAL = BadgeRules(encoding=BadgeEncoding.DECIMAL)
DECIMAL_REVERSED = BadgeRules(encoding=BadgeEncoding.DECIMAL, byte_order=ByteOrder.LSB_FIRST)
W26 = BadgeRules(encoding=BadgeEncoding.WIEGAND26)
W26_SPLIT = BadgeRules(encoding=BadgeEncoding.WIEGAND26, wiegand_split_digits=True)
W26_PARITY = BadgeRules(encoding=BadgeEncoding.WIEGAND26, wiegand_parity=True)
W34 = BadgeRules(encoding=BadgeEncoding.WIEGAND34)
W34_REVERSED = BadgeRules(encoding=BadgeEncoding.WIEGAND34, byte_order=ByteOrder.LSB_FIRST)
W34_SPLIT = BadgeRules(encoding=BadgeEncoding.WIEGAND34, wiegand_split_digits=True)
W34_PARITY = BadgeRules(encoding=BadgeEncoding.WIEGAND34, wiegand_parity=True)

# (what the reader emitted, the reader's rules, canonical id, where such output comes from)
REAL_WORLD = [
    # MIFARE Classic 1K, UID 04 A2 3B 12, seen through different readers.
    ("04A23B12", HEX, "04A23B12", "PC/SC tool output, or a wedge reader in hex mode"),
    ("04:A2:3B:12", HEX, "04A23B12", "NFC Tools / libnfc style, colon separated"),
    ("04-a2-3b-12", HEX, "04A23B12", "lowercase, dash separated"),
    ("04 A2 3B 12", HEX, "04A23B12", "pcsc_scan / ACR122U utility, space separated"),
    ("0x04A23B12", HEX, "04A23B12", "hex with a C prefix"),
    ("  04A23B12\t", HEX, "04A23B12", "wedge reader with stray whitespace"),
    ("123BA204", HEX_REVERSED, "04A23B12", "wedge reader printing the UID little-endian"),
    ("12:3b:a2:04", HEX_REVERSED, "04A23B12", "Android NFC apps showing reversed hex"),
    ("0305897988", DECIMAL_REVERSED, "04A23B12", "RFIDeas-style 10-digit decimal, reversed"),
    ("305897988", DECIMAL_REVERSED, "04A23B12", "same reader with zero padding off"),
    ("0077740818", DECIMAL, "04A23B12", "10-digit decimal, card byte order"),
    ("77740818", DECIMAL, "04A23B12", "decimal, card byte order, leading zeros dropped"),
    ("4A23B12", HEX, "04A23B12", "hex printed as a number: leading zero nibble dropped"),
    (
        "0004A23B12",
        BadgeRules(uid_bytes=4),
        "04A23B12",
        "hex zero-padded to 10 characters (EM-style field width)",
    ),
    ("A23B12", BadgeRules(uid_bytes=4), "00A23B12", "hex printed as a number: leading 00 byte"),
    # MIFARE DESFire / Ultralight / NTAG: 7-byte UIDs are never truncated.
    ("04 5C 8A 22 9F 61 80", HEX, "045C8A229F6180", "NTAG215 from PC/SC"),
    ("04:5c:8a:22:9f:61:80", HEX, "045C8A229F6180", "NTAG215, colon separated"),
    ("80619F228A5C04", HEX_REVERSED, "045C8A229F6180", "7-byte UID, reversed"),
    ("1227648262955392", DECIMAL, "045C8A229F6180", "7-byte UID as one decimal number"),
    ("36136133126151172", DECIMAL_REVERSED, "045C8A229F6180", "7-byte UID, reversed decimal"),
    # 10-byte (triple size) UIDs.
    ("08 11 22 33 44 55 66 77 88 99", HEX, "08112233445566778899", "triple-size UID"),
    # EM4100 / 125 kHz cards, printed "0012345678 188,24910" on the card.
    ("0012345678", BadgeRules(encoding=BadgeEncoding.DECIMAL, uid_bytes=3), "BC614E", "EM 10d"),
    ("188,24910", W26, "BC614E", "Wiegand 26 facility,card as printed on the card"),
    ("188/24910", W26, "BC614E", "Wiegand 26 with a slash"),
    ("188:24910", W26, "BC614E", "Wiegand 26 with a colon"),
    ("18824910", W26_SPLIT, "BC614E", "wedge reader in '8-digit W26' mode"),
    ("12345678", W26, "BC614E", "Wiegand 26 combined 24-bit number"),
    ("58245788", W26_PARITY, "BC614E", "raw 26-bit frame with parity bits"),
    ("1,1", W26, "010001", "facility 1, card 1: leading zeros kept to 3 bytes"),
    ("255,65535", W26, "FFFFFF", "largest Wiegand 26 code"),
    ("000,00001", W26, "000001", "zero facility code, zero-padded"),
    # Wiegand 34: the reader sends the 32 bits of a 4-byte UID, often reversed.
    ("305897988", W34_REVERSED, "04A23B12", "Wiegand 34 reader, UID reversed"),
    ("77740818", W34, "04A23B12", "Wiegand 34 reader, UID in card order"),
    ("01186,41490", W34, "04A2A212", "Wiegand 34 facility,card"),
    ("0118641490", W34_SPLIT, "04A2A212", "Wiegand 34 as 5+5 digits"),
    ("155481636", W34_PARITY, "04A23B12", "raw 34-bit frame with parity bits"),
    # Canonical ids read unchanged.
    ("DEADBEEF", DEFAULT_BADGE_RULES, "DEADBEEF", "already canonical"),
]


@pytest.mark.parametrize(
    ("raw", "rules", "canonical", "source"), REAL_WORLD, ids=[r[3] for r in REAL_WORLD]
)
def test_real_world_reader_output_normalizes(
    raw: str, rules: BadgeRules, canonical: str, source: str
) -> None:
    assert normalize_badge_id(raw, rules) == canonical


# (what the reader emitted, rules, words the message must contain so a person can act on it)
REJECTED = [
    ("", HEX, "empty"),
    ("   ", HEX, "empty"),
    ("04G23B12", HEX, "not hexadecimal"),
    ("04A23B12", DECIMAL, "set the reader's badge encoding to 'hex'"),
    ("12", HEX, "3 to 10 bytes"),
    ("0102030405060708090A0B", HEX, "3 to 10 bytes"),
    ("0104A23B12", BadgeRules(uid_bytes=4), "set uid_bytes to 5"),
    ("4294967296", BadgeRules(encoding=BadgeEncoding.DECIMAL, uid_bytes=4), "needs 5 bytes"),
    ("1" * 30, DECIMAL, "larger than a 10-byte UID"),
    ("256,1", W26, "facility code 256"),
    ("1,65536", W26, "card number 65536"),
    ("65536,1", W34, "facility code 65536"),
    ("16777216", W26, "does not fit in 24 bits"),
    ("1882491", W26_SPLIT, "should be 8 digits"),
    ("58245789", W26_PARITY, "parity check"),
    ("155481637", W34_PARITY, "parity check"),
    ("1,2,3", W26, "more than one separator"),
    ("１２３", DECIMAL, "not a decimal number"),
]


@pytest.mark.parametrize(("raw", "rules", "message"), REJECTED)
def test_unreadable_output_is_refused_with_a_helpful_message(
    raw: str, rules: BadgeRules, message: str
) -> None:
    with pytest.raises(BadgeIdError, match=message):
        normalize_badge_id(raw, rules)


def test_every_reader_format_of_one_card_gives_the_same_id() -> None:
    """The promise of the module: the same card is the same member on every reader."""
    uid = bytes.fromhex("04A23B12")
    emitted = {
        HEX: uid.hex(":"),
        HEX_REVERSED: uid[::-1].hex(),
        DECIMAL: str(int.from_bytes(uid, "big")),
        DECIMAL_REVERSED: f"{int.from_bytes(uid, 'little'):010d}",
        W34: str(int.from_bytes(uid, "big")),
        W34_REVERSED: str(int.from_bytes(uid, "little")),
    }
    ids = {normalize_badge_id(text, rules) for rules, text in emitted.items()}
    assert ids == {badge_id_from_uid(uid)}


uids = st.sampled_from([4, 7, 10]).flatmap(lambda n: st.binary(min_size=n, max_size=n))


@given(uid=uids, separator=st.sampled_from(["", ":", "-", " "]), lower=st.booleans())
def test_hex_in_any_spelling_round_trips(uid: bytes, separator: str, lower: bool) -> None:
    text = uid.hex(separator) if separator else uid.hex()
    text = text if lower else text.upper()
    assert normalize_badge_id(text, HEX) == uid.hex().upper()
    assert normalize_badge_id(uid[::-1].hex(), HEX_REVERSED) == uid.hex().upper()


@given(uid=uids.filter(lambda u: u[0] != 0 and u[-1] != 0))
def test_decimal_round_trips_in_both_byte_orders(uid: bytes) -> None:
    # A UID whose first (or, reversed, last) byte is zero is ambiguous in decimal without
    # uid_bytes; real UIDs start with a non-zero manufacturer byte.
    assert normalize_badge_id(str(int.from_bytes(uid, "big")), DECIMAL) == uid.hex().upper()
    reversed_number = str(int.from_bytes(uid, "little"))
    assert normalize_badge_id(reversed_number, DECIMAL_REVERSED) == uid.hex().upper()


@given(facility=st.integers(0, 255), card=st.integers(0, 65535))
def test_wiegand26_spellings_agree(facility: int, card: int) -> None:
    split = normalize_badge_id(f"{facility},{card}", W26)
    assert normalize_badge_id(f"{facility:03d}{card:05d}", W26_SPLIT) == split
    assert normalize_badge_id(str((facility << 16) | card), W26) == split
    assert split == f"{facility:02X}{card:04X}"


@given(raw=st.text(max_size=30))
def test_normalization_either_returns_a_canonical_id_or_explains(raw: str) -> None:
    for rules in (HEX, DECIMAL, W26, W34_PARITY):
        try:
            result = normalize_badge_id(raw, rules)
        except BadgeIdError as exc:
            message = str(exc)
            result = None
        if result is None:
            assert message
        else:
            assert is_canonical_badge_id(result)
            assert normalize_badge_id(result) == result


def test_uid_bytes_are_kept_whole() -> None:
    assert badge_id_from_uid(bytes([0x04, 0x5C, 0x8A, 0x22, 0x9F, 0x61, 0x80])) == "045C8A229F6180"
    with pytest.raises(BadgeIdError, match="not a UID"):
        badge_id_from_uid(b"\x01\x02")


def test_rules_are_explicit_and_frozen() -> None:
    with pytest.raises(ValidationError):
        BadgeRules(uid_bytes=2)
    with pytest.raises(ValidationError):
        BadgeRules.model_validate({"encoding": "hex", "guess": True})
    with pytest.raises(ValidationError):
        HEX.encoding = BadgeEncoding.DECIMAL  # type: ignore[misc]
    rules = BadgeRules.model_validate({"encoding": "decimal", "byte_order": "lsb_first"})
    assert rules == DECIMAL_REVERSED


def test_wire_models_accept_only_canonical_ids() -> None:
    class Tap(BaseModel):
        badge_id: CanonicalBadgeId

    assert Tap(badge_id="04A23B12").badge_id == "04A23B12"
    for bad in ("04a23b12", "04:A2:3B:12", "4A23B12", "ABCD"):
        with pytest.raises(ValidationError):
            Tap(badge_id=bad)
