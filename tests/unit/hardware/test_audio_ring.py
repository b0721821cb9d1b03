"""The preallocated sample ring between device callbacks and the event loop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware.audio.ring import SampleRing


@given(
    capacity=st.integers(1, 64),
    operations=st.lists(st.tuples(st.booleans(), st.integers(0, 80)), max_size=60),
)
def test_samples_come_out_in_order_and_overflow_is_refused(
    capacity: int, operations: list[tuple[bool, int]]
) -> None:
    ring = SampleRing(capacity)
    expected: list[int] = []
    produced = 0
    for is_write, size in operations:
        if is_write:
            chunk = (np.arange(produced, produced + size) % 30000).astype(np.int16)
            accepted = ring.write(chunk)
            assert accepted == min(size, capacity - len(expected))
            expected.extend(chunk[:accepted].tolist())
            produced += size
        else:
            out = np.full(size, -1, dtype=np.int16)
            count = ring.read_into(out)
            assert out[:count].tolist() == expected[:count]
            assert (out[count:] == -1).all()  # untouched beyond what was read
            del expected[:count]
        assert ring.available == len(expected) <= capacity
        assert ring.free == capacity - len(expected)


def test_read_limit_and_skip() -> None:
    ring = SampleRing(8)
    ring.write(np.arange(6, dtype=np.int16))
    out = np.zeros(8, dtype=np.int16)
    assert ring.read_into(out, limit=2) == 2
    assert out[:2].tolist() == [0, 1]
    assert ring.skip_to(5) == 3
    assert ring.read_into(out) == 1
    assert out[0] == 5
    assert ring.skip_to(100) == 0  # never past what was written
    assert (ring.written, ring.read_position) == (6, 6)


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive capacity"):
        SampleRing(0)
