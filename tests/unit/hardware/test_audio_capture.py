"""The microphone path: device blocks in, stamped 24 kHz frames out as soon as they exist."""

from __future__ import annotations

import numpy as np
import soxr

from hardware.audio.capture import Audibility, CapturedFrame, CapturePath
from hardware.audio.echo import EchoPolicy
from hardware.audio.ring import Samples
from hardware.settings import EchoMode, ResampleQuality

NEVER = Audibility(since=float("-inf"), last=float("-inf"))
OPEN = EchoPolicy(mode=EchoMode.OPEN)


def sine(rate: int, seconds: float, freq: float = 440.0, amplitude: float = 9000) -> Samples:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * freq * t) * amplitude).astype(np.int16)


def feed(
    path: CapturePath, signal: Samples, block: int, audibility: Audibility = NEVER
) -> list[CapturedFrame]:
    """Deliver ``signal`` block by block at t = 0.02 s * block number, draining each time."""
    frames = []
    for number, start in enumerate(range(0, len(signal), block)):
        path.on_input(signal[start : start + block], 0.02 * number)
        frames.extend(path.drain(audibility))
    return frames


def test_frames_put_end_to_end_are_the_stream_resampled_whole() -> None:
    signal = sine(48_000, 1.0)
    path = CapturePath(48_000, 48_000, OPEN, ResampleQuality.LQ)
    frames = feed(path, signal, 960)
    assert [f.index for f in frames] == list(range(len(frames)))
    starts = [0]
    for frame in frames[:-1]:
        starts.append(starts[-1] + len(frame.pcm) // 2)
    assert [f.start for f in frames] == starts  # contiguous: nothing lost, nothing repeated
    sizes = {len(f.pcm) // 2 for f in frames}
    assert sizes <= {470, 940}  # what soxr's LQ stream gives per 20 ms block at 48 kHz
    sent = np.frombuffer(b"".join(f.pcm for f in frames), dtype="<i2")
    whole = soxr.resample(signal, 48_000, 24_000, quality="LQ")[: len(sent)]
    assert len(sent) >= 24_000 - 480  # at most the filter's tail is pending
    assert np.abs(sent.astype(np.int32) - whole.astype(np.int32)).max() <= 2


def test_every_frame_leaves_with_the_block_it_came_from() -> None:
    """No frame waits for the next block (the old fixed 20 ms frames all did)."""
    for rate, block in ((48_000, 960), (44_100, 882), (16_000, 320)):
        path = CapturePath(rate, rate, OPEN)
        signal = sine(rate, 20.0)
        for number, start in enumerate(range(0, len(signal), block)):
            path.on_input(signal[start : start + block], 0.02 * number)
            for frame in path.drain(NEVER):
                assert frame.captured_at == 0.02 * number, (rate, frame.index)


def test_blocks_of_any_size_make_the_same_stream() -> None:
    signal = sine(48_000, 0.5)
    regular = feed(CapturePath(48_000, 48_000, OPEN), signal, 960)
    odd = feed(CapturePath(48_000, 48_000, OPEN), signal, 257)
    a = np.frombuffer(b"".join(f.pcm for f in regular), dtype="<i2").astype(np.int32)
    b = np.frombuffer(b"".join(f.pcm for f in odd), dtype="<i2").astype(np.int32)
    count = min(len(a), len(b))
    assert count > 11_000
    assert np.abs(a[:count] - b[:count]).max() <= 2


def test_a_slow_loop_loses_samples_as_counted_overflows() -> None:
    path = CapturePath(48_000, capacity=2000, echo=OPEN)
    for number in range(5):  # five 20 ms blocks, no drain in between
        path.on_input(np.ones(960, dtype=np.int16), 0.02 * number)
    assert path.pending_samples == 2000
    assert path.overflows == 3
    assert path.overflow_samples == 5 * 960 - 2000
    frames = path.drain(NEVER)
    assert path.pending_samples == 0
    # What did fit is still sent: 2000 samples at 48 kHz, less the filter's delay.
    assert 1 <= len(frames) <= 3
    assert 0 < sum(len(f.pcm) for f in frames) // 2 <= 1000


def test_echo_gate_mutes_frames_captured_while_playing_and_for_the_tail() -> None:
    gate = EchoPolicy(mode=EchoMode.GATE, tail_s=0.1)
    path = CapturePath(48_000, 48_000, gate)
    # The speaker played from t=0.2 s to t=0.5 s.
    playing = Audibility(since=0.2, last=0.5)
    frames = feed(path, sine(48_000, 1.0), 960, playing)
    for frame in frames:
        expect_muted = 0.2 < frame.captured_at <= 0.6
        assert frame.muted == expect_muted, frame.captured_at
        assert (frame.pcm == bytes(len(frame.pcm))) == expect_muted
    assert path.muted_frames == sum(f.muted for f in frames) > 0


def test_open_microphone_never_mutes() -> None:
    path = CapturePath(48_000, 48_000, OPEN)
    frames = feed(path, sine(48_000, 0.5), 960, Audibility(since=0.0, last=10.0))
    assert frames
    assert not any(f.muted for f in frames)


def test_echo_policy_boundaries() -> None:
    gate = EchoPolicy(mode=EchoMode.GATE, tail_s=0.3)
    assert not gate.mutes(1.0, audible_since=1.0, last_audible_at=2.0)  # before playback
    assert gate.mutes(1.5, audible_since=1.0, last_audible_at=2.0)
    assert gate.mutes(2.3, audible_since=1.0, last_audible_at=2.0)  # the tail
    assert not gate.mutes(2.31, audible_since=1.0, last_audible_at=2.0)
    assert not gate.mutes(5.0, audible_since=float("-inf"), last_audible_at=float("-inf"))
