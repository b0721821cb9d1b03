"""The level meter `doctor` uses to say whether the microphone works."""

from __future__ import annotations

import math

import numpy as np

from hardware.audio.level import SILENCE_DBFS, LevelMeter


def test_sine_reads_its_rms_and_peak() -> None:
    amplitude = 16384  # -6 dBFS peak, -9 dBFS RMS
    t = np.arange(48_000) / 48_000
    meter = LevelMeter()
    signal = (np.sin(2 * np.pi * 1000 * t) * amplitude).round().astype(np.int16)
    for start in range(0, len(signal), 960):
        meter.update(signal[start : start + 960])
    reading = meter.reading()
    assert math.isclose(reading.rms_dbfs, 20 * math.log10(0.5 / math.sqrt(2)), abs_tol=0.05)
    assert math.isclose(reading.peak_dbfs, 20 * math.log10(0.5), abs_tol=0.01)
    assert reading.samples == 48_000
    assert not reading.clipping


def test_clipping_is_counted() -> None:
    meter = LevelMeter()
    meter.update(np.array([0, 32767, -32768, 100, 32767], dtype=np.int16))
    reading = meter.reading()
    assert reading.clipped_samples == 3
    assert reading.clipping
    assert reading.peak_dbfs == 0.0


def test_silence_and_a_fresh_start_after_each_reading() -> None:
    meter = LevelMeter()
    meter.update(np.zeros(960, dtype=np.int16))
    assert meter.reading().rms_dbfs == SILENCE_DBFS
    empty = meter.reading()
    assert (empty.samples, empty.rms_dbfs, empty.peak_dbfs) == (0, SILENCE_DBFS, SILENCE_DBFS)
    meter.update(np.full(10_000, 1000, dtype=np.int16))  # longer than the scratch buffer
    assert math.isclose(meter.reading().rms_dbfs, 20 * math.log10(1000 / 32768), abs_tol=0.01)
