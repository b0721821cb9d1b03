"""Per-caller rate limits with the customer document's headers (sans-I/O, in memory).

Fixed one-minute windows per (bucket, caller), as the customer document's "simple
in-memory" middleware: each replica limits on its own. Buckets and defaults: `api` 100/min
(kiosks), `voice` 30/min (voice start and tools), `admin` 200/min (dashboard and operators).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


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


class RateLimiter:
    def __init__(
        self,
        limits: dict[str, int],
        *,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = dict(limits)
        self._window_s = window_s
        self._clock = clock
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}

    def hit(self, bucket: str, caller: str) -> Decision:
        limit = self._limits[bucket]
        now = self._clock()
        key = (bucket, caller)
        start, count = self._windows.get(key, (now, 0))
        if now - start >= self._window_s:
            start, count = now, 0
        allowed = count < limit
        if allowed:
            count += 1
        self._windows[key] = (start, count)
        if len(self._windows) > 50_000:
            self._sweep(now)
        reset = max(1, math.ceil(start + self._window_s - now))
        return Decision(allowed, limit, max(0, limit - count), reset)

    def _sweep(self, now: float) -> None:
        self._windows = {
            key: value for key, value in self._windows.items() if now - value[0] < self._window_s
        }
