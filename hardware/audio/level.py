"""Microphone level meter: RMS, peak and clipping, for `jarvis-kiosk doctor` and heartbeats.

A dead microphone reads near the noise floor, a good one speaks at -30 to -10 dBFS RMS, and
clipped samples mean the input gain is too high for a loud gym.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hardware.audio.ring import Samples

FULL_SCALE = 32768.0
SILENCE_DBFS = -120.0
"""What digital silence reads as (instead of minus infinity, which JSON cannot carry)."""


def dbfs(amplitude: float) -> float:
    """Decibels relative to int16 full scale, floored at :data:`SILENCE_DBFS`."""
    if amplitude <= 0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 20 * math.log10(amplitude / FULL_SCALE))


@dataclass(frozen=True, slots=True)
class LevelReading:
    """Level over the samples since the previous reading."""

    rms_dbfs: float
    peak_dbfs: float
    clipped_samples: int
    """Samples at the int16 limits: the gain is too high."""
    samples: int

    @property
    def clipping(self) -> bool:
        return self.clipped_samples > 0


class LevelMeter:
    """Accumulates samples between readings."""

    def __init__(self) -> None:
        self._scratch: npt.NDArray[np.float32] = np.zeros(4096, dtype=np.float32)
        self._reset()

    def _reset(self) -> None:
        self._sum_squares = 0.0
        self._peak = 0
        self._clipped = 0
        self._count = 0

    def update(self, samples: Samples) -> None:
        count = len(samples)
        if count == 0:
            return
        if count > len(self._scratch):
            self._scratch = np.zeros(count, dtype=np.float32)
        scratch = self._scratch[:count]
        np.copyto(scratch, samples, casting="unsafe")
        self._sum_squares += float(np.dot(scratch, scratch))
        low, high = int(samples.min()), int(samples.max())
        self._peak = max(self._peak, -low, high)
        if low <= -32768 or high >= 32767:
            self._clipped += int(np.count_nonzero(samples <= -32768))
            self._clipped += int(np.count_nonzero(samples >= 32767))
        self._count += count

    def reading(self) -> LevelReading:
        """The level since the last reading, then start over."""
        rms = math.sqrt(self._sum_squares / self._count) if self._count else 0.0
        result = LevelReading(
            rms_dbfs=dbfs(rms),
            peak_dbfs=dbfs(float(self._peak)),
            clipped_samples=self._clipped,
            samples=self._count,
        )
        self._reset()
        return result
