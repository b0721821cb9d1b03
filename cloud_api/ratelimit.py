"""Per-caller rate limits, exact across API replicas: the counters live in Postgres.

A request's dependency knows who is calling (kiosk, user, or source address) and stages a
`Charge` on its bucket. The request's first transaction settles it in the same network
round trip that opens the transaction (`db.database.Prelude`), but in a transaction of its
own: the counter's row is locked for microseconds, not for the whole request, and a request
that fails later still counts. Over the limit, the request is refused with 429 before it
does anything, and the refused attempt is not counted, so `Retry-After` is truthful. A
request refused before it reaches the database (a malformed badge id, an unknown tool, a bad
token) costs the database nothing and is not counted.

Windows are anchored on a caller's first hit (as the customer document's in-memory
middleware): `X-RateLimit-Reset` and `Retry-After` are the seconds until that window ends.
Buckets and defaults: `api` 100/min (kiosks; claims and tokens per address), `voice` 30/min
(voice start and tools), `admin` 200/min (dashboard and operators), `login` 10/min per
address. The same table and functions serve any other per-key limit (`data.limits.take`):
pass a bucket of its own, a limit and a window, and charge cost 0 to only look.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from psycopg import sql

from cloud_api.data import limits
from cloud_api.db.database import Database, stage_prelude

log = logging.getLogger("jarvis.cloud.ratelimit")


@dataclass(frozen=True)
class Limit:
    bucket: str
    per_window: int
    window_s: int = 60

    def describe(self) -> str:
        per = "per minute" if self.window_s == 60 else f"per {self.window_s} s"
        return f"at most {self.per_window} {per}"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int  # seconds until the window resets

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_s),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_s)
        return headers


class LimitExceeded(Exception):
    """The caller is over its limit: answered 429 with the decision's headers."""

    def __init__(self, limit: Limit, decision: Decision) -> None:
        super().__init__(f"{limit.bucket}: {limit.describe()}")
        self.limit = limit
        self.decision = decision


def decide(limit: Limit, count: limits.Count) -> Decision:
    remaining = max(0, limit.per_window - count.hits)
    return Decision(count.allowed, limit.per_window, remaining, count.reset_s)


class HeaderSink(Protocol):
    """Where a decision's headers go: the response's headers."""

    def update(self, other: Mapping[str, str], /) -> None: ...


class Charge:
    """One request's hit on its limit, settled by the request's first transaction."""

    def __init__(self, limit: Limit, caller: str, headers: HeaderSink) -> None:
        self.limit = limit
        self.caller = caller
        self._headers = headers
        self._taken = False
        self.decision: Decision | None = None

    def take(self) -> bool:
        """True for the first transaction of the request only."""
        first, self._taken = not self._taken, True
        return first

    def statement(self) -> sql.Composed:
        limit = self.limit
        return limits.take_statement(limit.bucket, self.caller, limit.per_window, limit.window_s)

    def settle(self, row: dict[str, Any] | None) -> None:
        self.decision = decide(self.limit, limits.count_from_row(row))
        if not self.decision.allowed:
            raise LimitExceeded(self.limit, self.decision)
        self._headers.update(self.decision.headers())


class RateLimiter:
    """The configured limits; `stage` charges one for the current request."""

    def __init__(self, per_window: Mapping[str, int], *, window_s: int = 60) -> None:
        self._limits = {
            bucket: Limit(bucket, count, window_s) for bucket, count in per_window.items()
        }

    def limit(self, bucket: str) -> Limit:
        return self._limits[bucket]

    def stage(self, bucket: str, caller: str, headers: HeaderSink) -> Charge:
        """Charge the current request to (bucket, caller) at its first transaction; the
        decision's headers go into `headers` (the response's)."""
        charge = Charge(self._limits[bucket], caller, headers)
        stage_prelude(charge)
        return charge


def caller_key_for_address(address: str) -> str:
    """The key of an anonymous caller: its IPv4 address, or its IPv6 /64 (one subscriber's
    network: rotating addresses inside it buys no extra attempts)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


async def sweep_forever(database: Database, every_s: float) -> None:
    """Forget ended windows every `every_s` seconds, until cancelled (the app's lifespan)."""
    while True:
        await asyncio.sleep(every_s)
        try:
            async with database.login_role_transaction() as conn:
                gone = await limits.sweep(conn)
        except Exception:  # the next round retries; a failure here must not stop serving
            log.warning("sweeping ended rate-limit windows failed", exc_info=True)
        else:
            log.debug("forgot %d ended rate-limit windows", gone)
