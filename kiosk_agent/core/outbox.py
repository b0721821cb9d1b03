"""When to upload what from the outbox, sans I/O: the delivery policy.

The outbox holds session records and events written before any upload. The uploader (an
adapter) asks this policy how many to send and when, reports what happened, and the policy
decides the next attempt:

- success: reset the backoff and send the next batch at once while records remain;
- the cloud unreachable or failing (5xx): the shared jittered backoff
  (:class:`contract.backoff.Backoff`: doubling from ``initial_s`` to ``max_s``, each delay
  between half and all of the step), so a fleet of kiosks coming back after an outage does
  not hit the cloud in lockstep;
- rate limited (429) or told when to come back (``Retry-After``): wait exactly that, plus up
  to 10 % of jitter, never less;
- a batch refused as a whole (4xx other than 401/429: one record the cloud cannot read):
  halve the batch and retry at once, down to one record, which is then set aside as refused
  so it cannot block the records behind it; the batch grows back after successes.

Delivery is at least once: a batch whose answer was lost is sent again, and the cloud applies
records idempotently on the id the kiosk made, so each takes effect exactly once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum

from contract.backoff import Backoff


class Failure(StrEnum):
    UNREACHABLE = "unreachable"
    """No answer: network down, DNS, timeout, connection refused."""
    UNAVAILABLE = "unavailable"
    """The cloud answered 5xx, or is not the cloud we expected."""
    RATE_LIMITED = "rate_limited"
    AUTH = "auth"
    """The credential was refused: retrying will not help until it is fixed."""
    BATCH_REFUSED = "batch_refused"
    """A 4xx about the batch's content."""


@dataclass(frozen=True, slots=True)
class Decision:
    """What the uploader does next."""

    wait_s: float
    """Seconds to wait before the next attempt (0: now)."""
    set_aside: bool = False
    """The single record just sent must be marked refused and skipped."""


@dataclass(slots=True)
class OutboxPolicy:
    """One per record kind (sessions, events); the uploader reports every attempt."""

    backoff: Backoff
    max_batch: int
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0
    batch_limit: int = 0
    last_failure: Failure | None = None

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise ValueError(f"a batch holds at least one record, not {self.max_batch}")
        self.batch_limit = self.max_batch

    def set_max_batch(self, size: int) -> None:
        """The cloud's config changed the batch size."""
        self.max_batch = max(1, size)
        self.batch_limit = min(self.batch_limit, self.max_batch)

    def batch_size(self) -> int:
        return self.batch_limit

    def delivered(self) -> Decision:
        """The batch was answered (records stored, duplicates, refusals): carry on."""
        self.failures = 0
        self.last_failure = None
        self.batch_limit = min(self.max_batch, self.batch_limit * 2)
        return Decision(0.0)

    def failed(self, failure: Failure, sent: int, retry_after_s: float | None = None) -> Decision:
        """An attempt of ``sent`` records failed; when to try again."""
        self.last_failure = failure
        if failure is Failure.BATCH_REFUSED:
            if sent > 1:
                self.batch_limit = max(1, sent // 2)
                return Decision(0.0)
            return Decision(0.0, set_aside=True)
        self.failures += 1
        if failure is Failure.RATE_LIMITED or retry_after_s is not None:
            # A Retry-After of 0 on a refusal would be a busy loop: wait the step instead.
            told = retry_after_s or self.backoff.step(self.failures)
            return Decision(Backoff.told(told, self.rng))
        if failure is Failure.AUTH:
            return Decision(self.backoff.max_s)
        return Decision(self.backoff.delay(self.failures, self.rng))
