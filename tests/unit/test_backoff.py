"""The one retry policy (contract.backoff): pure, attempt in, delay out, randomness passed in."""

from __future__ import annotations

import random

import pytest

from contract.backoff import Backoff


def test_the_step_doubles_from_the_initial_delay_up_to_the_cap() -> None:
    backoff = Backoff(initial_s=0.5, max_s=30.0)
    assert [backoff.step(n) for n in range(0, 9)] == [0.5, 0.5, 1, 2, 4, 8, 16, 30, 30]
    assert backoff.step(10_000) == 30  # no overflow after days of failures


def test_delays_are_drawn_from_the_upper_half_of_the_step() -> None:
    backoff = Backoff(initial_s=1.0, max_s=300.0)
    rng = random.Random(5)
    for attempt in range(1, 12):
        step = backoff.step(attempt)
        delays = [backoff.delay(attempt, rng) for _ in range(100)]
        assert all(step / 2 <= d <= step for d in delays)
        assert max(delays) - min(delays) > step / 4


def test_the_same_draws_give_the_same_delays() -> None:
    backoff = Backoff(initial_s=1.0, max_s=60.0)
    first = [backoff.delay(n, random.Random(9)) for n in range(1, 6)]
    assert first == [backoff.delay(n, random.Random(9)) for n in range(1, 6)]


@pytest.mark.parametrize(("jitter", "low"), [(0.0, 1.0), (1.0, 0.0), (0.25, 0.75)])
def test_jitter_is_the_fraction_of_the_step_left_to_chance(jitter: float, low: float) -> None:
    backoff = Backoff(initial_s=8.0, max_s=8.0, jitter=jitter)
    delays = [backoff.delay(1, random.Random(seed)) for seed in range(200)]
    assert min(delays) >= low * 8.0
    assert max(delays) <= 8.0


def test_a_wait_the_other_side_asked_for_is_never_shortened() -> None:
    rng = random.Random(1)
    waits = [Backoff.told(12.0, rng) for _ in range(100)]
    assert all(12.0 <= w <= 13.2 for w in waits)
    assert Backoff.told(-3.0, rng) == 0.0


@pytest.mark.parametrize(
    ("initial", "maximum", "jitter"), [(0.0, 1.0, 0.5), (1.0, -1.0, 0.5), (1.0, 2.0, 1.5)]
)
def test_nonsense_is_refused(initial: float, maximum: float, jitter: float) -> None:
    with pytest.raises(ValueError, match=r"backoff|jitter"):
        Backoff(initial, maximum, jitter)
