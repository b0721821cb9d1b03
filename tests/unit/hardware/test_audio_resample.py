"""Stateful resampling: a stream cut into chunks comes out as if converted whole.

Stated error: chunked output matches soxr's one-shot conversion of the whole signal within
2 LSB (soxr dithers its int16 output, so the two are not bit-identical), and chunk edges
show no step larger than the signal's own sample-to-sample change.
"""

from __future__ import annotations

import numpy as np
import pytest
import soxr

from hardware.audio.resample import StreamResampler
from hardware.audio.ring import Samples
from hardware.settings import ResampleQuality

MAX_ERROR_LSB = 2


def speech_like(rate: int, seconds: float, seed: int = 5) -> Samples:
    """Harmonics of a gliding 120-220 Hz voice plus noise, well inside int16."""
    t = np.arange(int(rate * seconds)) / rate
    f0 = 170 + 50 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 12))
    noise = np.random.default_rng(seed).normal(0, 0.02, len(t))
    return np.asarray(voice * 6000 + noise * 6000, dtype=np.float64).round().astype(np.int16)


def chunked(
    resampler: StreamResampler, signal: Samples, sizes: list[int]
) -> tuple[Samples, list[int]]:
    """Run ``signal`` through in chunks of ``sizes`` (cycled); return output and chunk edges."""
    outputs, edges, position, i = [], [], 0, 0
    while position < len(signal):
        size = sizes[i % len(sizes)]
        outputs.append(resampler.process(signal[position : position + size]))
        edges.append(sum(len(o) for o in outputs))
        position += size
        i += 1
    outputs.append(resampler.finish())
    return np.concatenate(outputs), edges


@pytest.mark.parametrize(
    ("in_rate", "out_rate", "quality", "block"),
    [
        (48_000, 24_000, ResampleQuality.LQ, 960),
        (48_000, 24_000, ResampleQuality.HQ, 960),
        (24_000, 48_000, ResampleQuality.HQ, 480),
        (44_100, 24_000, ResampleQuality.LQ, 882),
        (16_000, 24_000, ResampleQuality.LQ, 320),
        (24_000, 44_100, ResampleQuality.HQ, 480),
    ],
)
def test_chunked_matches_one_shot(
    in_rate: int, out_rate: int, quality: ResampleQuality, block: int
) -> None:
    signal = speech_like(in_rate, 2.0)
    stream, _ = chunked(StreamResampler(in_rate, out_rate, quality), signal, [block])
    whole = soxr.resample(signal, in_rate, out_rate, quality=quality.value)
    assert len(stream) == len(whole)
    error = np.abs(stream.astype(np.int32) - whole.astype(np.int32)).max()
    assert error <= MAX_ERROR_LSB


def test_irregular_chunks_are_as_good_as_regular_ones() -> None:
    signal = speech_like(48_000, 1.0)
    stream, _ = chunked(StreamResampler(48_000, 24_000), signal, [1, 959, 37, 2000, 480, 7])
    whole = soxr.resample(signal, 48_000, 24_000, quality="HQ")
    assert np.abs(stream.astype(np.int32) - whole.astype(np.int32)).max() <= MAX_ERROR_LSB


def test_no_discontinuity_at_chunk_edges() -> None:
    rate, block = 48_000, 960
    t = np.arange(rate) / rate
    tone = (np.sin(2 * np.pi * 440 * t) * 12_000).astype(np.int16)
    out, edges = chunked(StreamResampler(rate, 24_000, ResampleQuality.LQ), tone, [block])
    steps = np.abs(np.diff(out.astype(np.int32)))
    # A 440 Hz tone of amplitude 12000 at 24 kHz changes by at most 2*pi*440/24000*12000.
    smooth_limit = 2 * np.pi * 440 / 24_000 * 12_000 + MAX_ERROR_LSB
    at_edges = [steps[e - 1] for e in edges[:-1] if 0 < e < len(steps)]
    assert at_edges
    assert max(at_edges) <= smooth_limit
    # The same tone resampled chunk by chunk without state does click at the edges.
    naive = np.concatenate(
        [soxr.resample(tone[i : i + block], rate, 24_000) for i in range(0, rate, block)]
    )
    naive_steps = np.abs(np.diff(naive.astype(np.int32)))
    assert naive_steps.max() > 2 * smooth_limit


def test_finish_flushes_the_tail_and_starts_clean() -> None:
    resampler = StreamResampler(24_000, 48_000)
    first = np.concatenate([resampler.process(np.full(480, 1000, np.int16)), resampler.finish()])
    assert len(first) == 960
    second = np.concatenate([resampler.process(np.zeros(480, np.int16)), resampler.finish()])
    # Nothing of the first stream leaks into the second.
    assert np.abs(second).max() <= MAX_ERROR_LSB


def test_equal_rates_pass_through() -> None:
    resampler = StreamResampler(24_000, 24_000)
    samples = np.arange(10, dtype=np.int16)
    assert resampler.passthrough
    assert resampler.process(samples) is samples
    assert len(resampler.finish()) == 0


def test_rates_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        StreamResampler(0, 24_000)
