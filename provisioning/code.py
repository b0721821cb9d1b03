"""Provisioning codes: six characters an installer reads off a screen and types on a kiosk.

The alphabet is Crockford's base 32 (digits and letters without I, L, O, U), so a code has
30 bits and no look-alike pair. Input is forgiving the Crockford way: case, spaces and dashes
are ignored and the look-alikes a person might type are read as what they resemble
(O → 0, I and L → 1). Thirty bits are not enough on their own: the cloud also makes codes
short-lived and single-use, stores them hashed, and limits failed attempts.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 6
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_IGNORED = str.maketrans("", "", " -_.\t")
# Exactly what `normalize_code` accepts, as a regular expression (the API's schema says it):
# six letters or digits but U, in any case, with spaces, tabs, dashes, dots or underscores.
INPUT_PATTERN = r"^[ \t._-]*(?:[0-9A-TV-Za-tv-z][ \t._-]*){6}$"


class InvalidCode(ValueError):
    """The text cannot be a provisioning code; the message says why, for the installer."""


def new_code() -> str:
    """A fresh random code (cryptographically random)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalize_code(text: str) -> str:
    """The canonical code for what a person typed (`ab3-x9k`, `AB3 X9K` → `AB3X9K`)."""
    if not text.isascii():
        raise InvalidCode("a provisioning code has only letters, digits, spaces and dashes")
    code = text.translate(_IGNORED).upper().translate(_LOOK_ALIKES)
    if len(code) != LENGTH:
        raise InvalidCode(f"a provisioning code has {LENGTH} characters; {len(code)} were given")
    bad = sorted({c for c in code if c not in ALPHABET})
    if bad:
        raise InvalidCode(f"a provisioning code has no {', '.join(map(repr, bad))}")
    return code


def display_code(code: str) -> str:
    """How a code is shown to people: two groups of three (`AB3-X9K`)."""
    return f"{code[:3]}-{code[3:]}"


def neighbours(code: str) -> list[str]:
    """The codes one typo away from `code`: one character changed, or two neighbours swapped.
    A wrong guess among them is a near miss against `code` when `code` is live (the cloud
    counts near misses per live code: see docs/API.md, *Provisioning limits*)."""
    code = normalize_code(code)
    near = {code[:i] + other + code[i + 1 :] for i in range(LENGTH) for other in ALPHABET}
    near |= {code[:i] + code[i + 1] + code[i] + code[i + 2 :] for i in range(LENGTH - 1)}
    near.discard(code)
    return sorted(near)


def code_hash(code: str, pepper: bytes) -> str:
    """What the cloud stores: HMAC-SHA256 of the normalized code under a server secret, so a
    leaked database alone does not give the 30-bit codes away to a brute force."""
    return hmac.new(pepper, normalize_code(code).encode(), hashlib.sha256).hexdigest()
