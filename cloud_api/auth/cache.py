"""Tokens already verified, remembered until they expire.

A kiosk presents the same token for minutes (every heartbeat, every upload), a dashboard
user for an hour: checking its signature once is enough. The cache is keyed by the token's
exact text, so only a token that passed verification is ever found (a forged or altered
token is another string); a hit is checked against the token's `exp` again. It never stands
in for revocation, which Postgres checks on every statement. Bounded: the oldest entries go
first, and only verified tokens get in, so strangers cannot fill it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

Claims = dict[str, Any]


class VerifiedTokens:
    def __init__(self, capacity: int = 20_000, clock: Callable[[], float] = time.time) -> None:
        self._capacity = capacity
        self._clock = clock
        self._claims: OrderedDict[str, Claims] = OrderedDict()

    def get(self, token: str) -> Claims | None:
        claims = self._claims.get(token)
        if claims is None:
            return None
        if claims["exp"] <= self._clock():
            del self._claims[token]
            return None
        return claims

    def put(self, token: str, claims: Claims) -> None:
        self._claims[token] = claims
        if len(self._claims) > self._capacity:
            self._claims.popitem(last=False)

    def __len__(self) -> int:
        return len(self._claims)
