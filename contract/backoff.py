"""How a JARVIS client waits before trying again: one jittered exponential backoff, sans I/O.

Every retry loop on the kiosk uses this policy (reopening a badge reader, delivering the
outbox, reconnecting a Realtime conversation): the n-th failure in a row waits the *step*
``initial_s · 2^(n-1)``, capped at ``max_s``, drawn uniformly from its upper ``jitter``
fraction (with the default 0.5: between half and all of the step). The jitter is what keeps
a fleet of kiosks coming back from the same outage from retrying in lockstep; the cap keeps
a long outage from turning into hour-long silences.

When the other side says how long to wait (HTTP ``Retry-After``), :meth:`Backoff.told` waits
exactly that plus up to 10 %, never less.

It lives in ``contract`` because the hardware layer (badge readers) and the kiosk agent
both use it and neither may import the other's internals; it imports only the standard
library. Randomness is passed in, so tests choose it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

TOLD_JITTER = 0.1
"""Fraction added on top of a wait the other side asked for, spread the same way."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """``delay(n, rng)``: seconds to wait after the n-th consecutive failure (n ≥ 1)."""

    initial_s: float
    max_s: float
    jitter: float = 0.5
    """Fraction of the step drawn at random: 0 waits exactly the step, 1 anywhere in
    (0, step]."""

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.max_s <= 0:
            raise ValueError(f"backoff delays must be positive: {self.initial_s}, {self.max_s}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter is a fraction of the step, not {self.jitter}")

    def step(self, attempt: int) -> float:
        """The delay before jitter: initial · 2^(attempt-1), capped (attempt 0 counts as 1)."""
        exponent = min(max(attempt - 1, 0), 62)
        return float(min(self.max_s, self.initial_s * (2**exponent)))

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The jittered delay after the ``attempt``-th failure in a row."""
        step = self.step(attempt)
        return rng.uniform(step * (1 - self.jitter), step)

    @staticmethod
    def told(wait_s: float, rng: random.Random) -> float:
        """The delay when the other side asked for ``wait_s`` seconds: that, plus a little."""
        wait = max(wait_s, 0.0)
        return wait * (1 + rng.uniform(0, TOLD_JITTER))
