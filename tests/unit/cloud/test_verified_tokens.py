"""The cache of verified tokens: only verified tokens get in, none outlives its `exp`."""

from __future__ import annotations

import uuid

import pytest

from cloud_api.auth.cache import VerifiedTokens
from cloud_api.auth.kiosk import KioskTokenError, KioskTokenVerifier, mint_token


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_is_remembered_until_its_exp() -> None:
    clock = Clock()
    cache = VerifiedTokens(clock=clock)
    cache.put("t", {"exp": 1_060, "sub": "k"})
    assert cache.get("t") == {"exp": 1_060, "sub": "k"}
    clock.now = 1_060
    assert cache.get("t") is None
    assert len(cache) == 0


def test_the_oldest_tokens_leave_first() -> None:
    cache = VerifiedTokens(capacity=2, clock=Clock())
    for name in ("a", "b", "c"):
        cache.put(name, {"exp": 2_000})
    assert (cache.get("a"), len(cache)) == (None, 2)
    assert cache.get("c") is not None


def test_only_tokens_that_verified_are_cached() -> None:
    secret = b"s" * 32
    verifier = KioskTokenVerifier(secret)
    good = mint_token(uuid.uuid4(), uuid.uuid4(), secret, 300)
    assert verifier.verify(good) is verifier.verify(good)  # the second time from the cache
    forged = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    with pytest.raises(KioskTokenError):
        verifier.verify(forged)
    with pytest.raises(KioskTokenError):
        verifier.verify(forged)  # refused again: a failure is never remembered
    other_key = mint_token(uuid.uuid4(), uuid.uuid4(), b"t" * 32, 300)
    with pytest.raises(KioskTokenError):
        verifier.verify(other_key)
