"""The outbox delivery policy: backoff with jitter, Retry-After, batch splitting."""

from __future__ import annotations

import random

import pytest

from contract.backoff import Backoff
from kiosk_agent.core.outbox import Decision, Failure, OutboxPolicy


def policy(max_batch: int = 50, seed: int = 7) -> OutboxPolicy:
    return OutboxPolicy(Backoff(initial_s=1.0, max_s=300.0), max_batch, random.Random(seed))


def test_backoff_doubles_from_the_initial_delay_up_to_the_maximum() -> None:
    backoff = Backoff(initial_s=1.0, max_s=300.0)
    assert [backoff.step(n) for n in range(1, 12)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert backoff.step(10_000) == 300  # no overflow after days of outage


def test_jittered_delays_stay_between_half_and_all_of_the_step() -> None:
    rng = random.Random(1)
    backoff = Backoff(initial_s=1.0, max_s=300.0)
    for failures in range(1, 15):
        step = backoff.step(failures)
        delays = [backoff.delay(failures, rng) for _ in range(200)]
        assert all(step / 2 <= d <= step for d in delays)
        assert max(delays) - min(delays) > step / 4  # actually spread, not a constant


def test_kiosks_coming_back_together_do_not_retry_in_lockstep() -> None:
    fleet = [policy(seed=s) for s in range(50)]
    waits = [p.failed(Failure.UNREACHABLE, sent=10).wait_s for p in fleet]
    waits = [p.failed(Failure.UNREACHABLE, sent=10).wait_s for p in fleet]  # second failure
    assert len({round(w, 3) for w in waits}) > 40
    assert all(1.0 <= w <= 2.0 for w in waits)


def test_consecutive_failures_grow_the_wait_and_a_delivery_resets_it() -> None:
    p = policy()
    waits = [p.failed(Failure.UNAVAILABLE, sent=5).wait_s for _ in range(6)]
    assert waits == sorted(waits)
    assert 16 <= waits[-1] <= 32
    assert p.delivered() == Decision(0.0)
    assert p.failures == 0
    assert p.failed(Failure.UNREACHABLE, sent=5).wait_s <= 1.0


@pytest.mark.parametrize("retry_after", [0.5, 12.0, 3600.0])
def test_retry_after_is_honoured_never_shortened(retry_after: float) -> None:
    p = policy()
    decision = p.failed(Failure.RATE_LIMITED, sent=10, retry_after_s=retry_after)
    assert retry_after <= decision.wait_s <= retry_after * 1.1


def test_a_5xx_with_retry_after_is_honoured_too() -> None:
    decision = policy().failed(Failure.UNAVAILABLE, sent=10, retry_after_s=90.0)
    assert 90.0 <= decision.wait_s <= 99.0


def test_a_refused_credential_waits_the_longest() -> None:
    assert policy().failed(Failure.AUTH, sent=3) == Decision(300.0)


def test_a_refused_batch_is_halved_until_the_bad_record_is_alone_then_set_aside() -> None:
    p = policy(max_batch=50)
    sizes = []
    while True:
        size = p.batch_size()
        sizes.append(size)
        decision = p.failed(Failure.BATCH_REFUSED, sent=size)
        assert decision.wait_s == 0.0  # no waiting: the cloud is fine, one record is not
        if decision.set_aside:
            break
    assert sizes == [50, 25, 12, 6, 3, 1]
    assert p.failures == 0  # not an outage
    p.delivered()
    p.delivered()
    assert p.batch_size() == 4
    for _ in range(5):
        p.delivered()
    assert p.batch_size() == 50


def test_the_clouds_batch_size_caps_the_batch() -> None:
    p = policy(max_batch=50)
    p.set_max_batch(20)
    assert p.batch_size() == 20
    p.delivered()
    assert p.batch_size() == 20


def test_a_batch_holds_at_least_one_record() -> None:
    with pytest.raises(ValueError, match="at least one"):
        OutboxPolicy(Backoff(1, 2), 0)
