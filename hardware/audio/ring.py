"""A preallocated single-producer, single-consumer ring of int16 samples.

Audio callbacks run on the device's thread and must not allocate, lock or wait: they copy
into (or out of) this ring and return. The other side runs in the event loop. Positions are
cumulative sample counts owned by one side each (``written`` by the producer, ``read`` by the
consumer), so neither side ever writes what the other writes, and a side publishes its
position only after copying its samples.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.int16]


class SampleRing:
    """Fixed-capacity FIFO of int16 samples; overflow is refused, never overwritten."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"a ring needs a positive capacity, got {capacity}")
        self._buffer: Samples = np.zeros(capacity, dtype=np.int16)
        self._capacity = capacity
        self._written = 0
        self._read = 0

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def written(self) -> int:
        """Samples ever written: the position the next write starts at."""
        return self._written

    @property
    def read_position(self) -> int:
        """Samples ever read or skipped: the position the next read starts at."""
        return self._read

    @property
    def available(self) -> int:
        """Samples waiting to be read."""
        return self._written - self._read

    @property
    def free(self) -> int:
        return self._capacity - (self._written - self._read)

    def write(self, samples: Samples) -> int:
        """Producer: copy as many samples as fit; return how many (the rest is refused)."""
        count = min(len(samples), self._capacity - (self._written - self._read))
        if count <= 0:
            return 0
        start = self._written % self._capacity
        first = min(count, self._capacity - start)
        self._buffer[start : start + first] = samples[:first]
        if count > first:
            self._buffer[: count - first] = samples[first:count]
        self._written += count  # publish only after the copy
        return count

    def read_into(self, out: Samples, limit: int | None = None) -> int:
        """Consumer: copy up to ``limit`` (default ``len(out)``) samples into ``out``."""
        wanted = len(out) if limit is None else min(limit, len(out))
        count = min(wanted, self._written - self._read)
        if count <= 0:
            return 0
        start = self._read % self._capacity
        first = min(count, self._capacity - start)
        out[:first] = self._buffer[start : start + first]
        if count > first:
            out[first:count] = self._buffer[: count - first]
        self._read += count
        return count

    def skip_to(self, position: int) -> int:
        """Consumer: drop unread samples up to ``position``; return how many were dropped."""
        target = min(max(position, self._read), self._written)
        dropped = target - self._read
        self._read = target
        return dropped
