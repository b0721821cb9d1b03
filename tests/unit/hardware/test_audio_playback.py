"""The output buffer: silence on underrun, flush within one block, exact played accounting."""

from __future__ import annotations

import random
import threading

import numpy as np
import pytest

from hardware.audio.playback import STREAM_RATE, PlaybackPath, pcm16_to_samples
from hardware.audio.playback_buffer import PlaybackBuffer
from hardware.audio.ring import Samples

BLOCK = 960  # 20 ms at 48 kHz


def tone(value: int, count: int) -> Samples:
    return np.full(count, value, dtype=np.int16)


def play_block(buffer: PlaybackBuffer, now: float = 0.0, size: int = BLOCK) -> Samples:
    out = np.full(size, 12345, dtype=np.int16)  # garbage the callback must overwrite
    buffer.read_into(out, now)
    return out


def test_empty_buffer_plays_silence_without_counting_an_underrun() -> None:
    buffer = PlaybackBuffer(capacity=48_000, prebuffer=0)
    assert not play_block(buffer).any()
    assert buffer.underruns == 0


def test_underrun_mid_answer_plays_zeros_and_is_counted() -> None:
    buffer = PlaybackBuffer(capacity=48_000, prebuffer=0)
    buffer.write("item", tone(7, 1500))
    assert (play_block(buffer) == 7).all()
    second = play_block(buffer)
    assert (second[:540] == 7).all()
    assert not second[540:].any()
    assert buffer.underruns == 1  # more audio was expected: the network was late
    buffer.end_of_stream()
    assert not play_block(buffer).any()
    assert buffer.underruns == 1  # silence after the end is not an underrun


def test_the_first_audio_waits_the_playout_delay_unless_a_burst_is_queued() -> None:
    buffer = PlaybackBuffer(capacity=48_000, prebuffer=2880)  # 60 ms
    buffer.write("item", tone(3, 2000))
    assert not play_block(buffer, 0.00).any()  # waiting from the first block that saw it
    assert not play_block(buffer, 0.04).any()
    assert (play_block(buffer, 0.06)[:960] == 3).all()  # 60 ms later it plays
    burst = PlaybackBuffer(capacity=48_000, prebuffer=2880)
    burst.write("item", tone(5, 2880 + 4800))  # a fast server: delay + 100 ms already here
    assert (play_block(burst, 0.0) == 5).all()
    short = PlaybackBuffer(capacity=48_000, prebuffer=2880)
    short.write("short", tone(4, 100))
    short.end_of_stream()  # a complete answer plays at once
    assert (play_block(short, 0.0)[:100] == 4).all()


def deliver_at_real_time(path: PlaybackPath, deltas: int, jitter_s: float = 0.0) -> Samples:
    """``deltas`` of 100 ms, each arriving 100 ms after the previous one (plus jitter),
    played by a device calling back every 20 ms (phase 5 ms); what the speaker played."""
    rng = random.Random(5)
    t = np.arange(2400) / STREAM_RATE
    delta = (6000 + 2000 * np.sin(2 * np.pi * 180 * t)).astype("<i2").tobytes()
    arrivals = [0.1 * n + rng.uniform(0, jitter_s) for n in range(deltas)]
    played: list[Samples] = []
    for k in range(int((0.1 * deltas + 0.6) / 0.02)):
        now = 0.005 + 0.02 * k
        while arrivals and arrivals[0] <= now:
            arrivals.pop(0)
            path.play("answer", delta)
            if not arrivals:
                path.finish_item("answer")
        played.append(play_block(path.buffer, now).copy())
    return np.concatenate(played)


def test_deltas_paced_at_real_time_play_without_a_gap() -> None:
    # Defect 6: with a 60 ms queue threshold the resampler's look-ahead left 70 ms of the
    # first delta queued, so every answer went 70 ms sound, 30 ms silence, then the rest.
    path = PlaybackPath(device_rate=48_000, capacity=480_000, prebuffer=2880)
    out = deliver_at_real_time(path, deltas=30)
    sound = np.flatnonzero(out)
    start, end = int(sound[0]), int(sound[-1])
    assert start <= 48_000 * 120 // 1000  # added latency <= 120 ms (first delta at 0)
    assert np.count_nonzero(out[start:end] == 0) == 0  # no gap inside the answer
    assert path.buffer.underruns == 0
    assert end - start + 1 == 48 * 3000  # all 3 s of it


def test_the_playout_delay_grows_after_an_underrun_and_shrinks_when_deliveries_run_ahead() -> None:
    path = PlaybackPath(device_rate=48_000, capacity=480_000, prebuffer=2880)
    deliver_at_real_time(path, deltas=30, jitter_s=0.15)  # late deltas: the buffer runs dry
    underruns = path.buffer.underruns
    assert underruns > 0
    assert 60 < path.buffer.playout.delay_ms <= 300
    deliver_at_real_time(path, deltas=30, jitter_s=0.15)  # the same network, next answer
    assert path.buffer.underruns == underruns  # none: the delay now covers the jitter
    for _ in range(20):  # a fast server: every answer arrives at once, far ahead
        path.play("fast", tone(3000, 24_000).astype("<i2").tobytes())
        path.finish_item("fast")
        for k in range(60):
            play_block(path.buffer, 100.0 + 0.02 * k)
    assert path.buffer.playout.delay_ms == 60  # back to the floor


def test_flush_empties_within_one_block() -> None:
    buffer = PlaybackBuffer(capacity=480_000, prebuffer=0)
    buffer.write("answer", tone(9, 48_000))
    assert (play_block(buffer) == 9).all()
    buffer.request_flush()
    assert buffer.flush_pending
    assert not play_block(buffer).any()  # the very next block is silent
    assert not buffer.flush_pending
    assert buffer.queued == 0
    buffer.write("next", tone(5, BLOCK))
    assert (play_block(buffer) == 5).all()  # audio after the flush plays


def test_played_accounting_is_exact_across_items_and_flush() -> None:
    buffer = PlaybackBuffer(capacity=10_000, prebuffer=0)
    buffer.write("a", tone(1, 1000))
    buffer.write("b", tone(2, 700))
    buffer.write("a", tone(1, 50))  # an item can come back (two content parts)
    play_block(buffer, size=300)
    assert (buffer.played_samples("a"), buffer.played_samples("b")) == (300, 0)
    play_block(buffer, size=800)
    assert (buffer.played_samples("a"), buffer.played_samples("b")) == (1000, 100)
    buffer.request_flush()
    buffer.write("c", tone(3, 400))
    play_block(buffer, size=500)
    assert buffer.played_samples("a") == 1000
    assert buffer.played_samples("b") == 100  # cut where the member stopped hearing it
    assert buffer.played_samples("c") == 400
    assert buffer.played_samples("never") == 0


def test_backlog_beyond_the_ring_plays_in_order() -> None:
    buffer = PlaybackBuffer(capacity=1000, prebuffer=0)
    signal = (np.arange(5000) % 3000).astype(np.int16)
    buffer.write("long", signal)
    assert buffer.backlogged
    assert buffer.queued == 5000
    played = []
    for _ in range(6):
        played.append(play_block(buffer, size=1000).copy())
        buffer.pump()
    buffer.end_of_stream()
    assert np.array_equal(np.concatenate(played)[:5000], signal)
    assert buffer.played_samples("long") == 5000
    assert not buffer.backlogged


def test_accounting_matches_what_a_concurrent_device_played() -> None:
    """A real device thread reads while the loop writes and flushes at random moments.

    Every item has its own sample value, so what the device output says exactly how much of
    each item was played; the buffer's accounting must agree, sample for sample.
    """
    buffer = PlaybackBuffer(capacity=20_000, prebuffer=0)
    heard: dict[int, int] = {}
    stop = threading.Event()

    def device() -> None:
        out = np.zeros(480, dtype=np.int16)
        while not stop.is_set() or buffer.queued:
            buffer.read_into(out, 0.0)
            values, counts = np.unique(out, return_counts=True)
            for value, count in zip(values.tolist(), counts.tolist(), strict=True):
                heard[value] = heard.get(value, 0) + count

    thread = threading.Thread(target=device)
    thread.start()
    rng = random.Random(3)
    items = [f"item-{i}" for i in range(1, 120)]
    for number, item in enumerate(items, start=1):
        for _ in range(rng.randint(1, 4)):
            buffer.write(item, tone(number, rng.randint(1, 3000)))
            if rng.random() < 0.15:
                buffer.request_flush()
            buffer.pump()
    while buffer.backlogged:  # the event loop keeps topping up the ring as it drains
        buffer.pump()
    buffer.end_of_stream()
    stop.set()
    thread.join()
    for number, item in enumerate(items, start=1):
        assert buffer.played_samples(item) == heard.get(number, 0), item


def test_playback_path_resamples_per_item_and_drops_cut_items() -> None:
    path = PlaybackPath(device_rate=48_000, capacity=96_000, prebuffer=0)
    pcm = tone(1000, STREAM_RATE // 10).astype("<i2").tobytes()  # 100 ms
    assert path.play("first", pcm)
    path.finish_item("first")
    assert path.buffer.queued == 4800  # exactly 100 ms at 48 kHz, tail included
    out = np.zeros(4800, dtype=np.int16)
    path.buffer.read_into(out, 0.0)
    assert path.played_ms("first") == 100
    assert path.play("second", pcm)
    path.flush()
    assert not path.play("second", pcm)  # late deltas of a cut answer are dropped
    assert path.play("third", pcm)


def test_pcm16_must_have_whole_samples() -> None:
    assert pcm16_to_samples(b"\x01\x00\xff\xff").tolist() == [1, -1]
    with pytest.raises(ValueError, match="even number of bytes"):
        pcm16_to_samples(b"\x01")
    with pytest.raises(ValueError, match="prebuffer"):
        PlaybackBuffer(capacity=10, prebuffer=10)
