"""Password hashing for the embedded auth issuer: Argon2id (argon2-cffi's RFC 9106 profile)."""

from __future__ import annotations

import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id, RFC 9106 low-memory profile


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True when the password matches; never raises for a wrong or malformed hash."""
    try:
        return _hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # A hash of a random password with the same parameters as every stored one: verifying
    # against it costs what verifying a real account's password costs.
    return hash_password(secrets.token_urlsafe(32))


def verify_password_or_dummy(stored_hash: str | None, password: str) -> bool:
    """`verify_password` against the stored hash, or, when there is none (an unknown email, an
    account without a password), the same work against a dummy hash, answering False."""
    if not stored_hash:
        verify_password(_dummy_hash(), password)
        return False
    return verify_password(stored_hash, password)
