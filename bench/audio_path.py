"""Full-duplex audio path benchmark: the kiosk's real audio path against a naive one.

A simulated sound card (a thread calling the callbacks every 20 ms in real time: 48 kHz,
960-sample blocks) feeds a timestamped synthetic microphone into the path and takes the
speaker's blocks out. Frames go to a local websocket server speaking a Realtime-like protocol
(base64 in JSON, 24 kHz PCM16); the server answers with audio deltas faster than real time,
and every third answer is interrupted (flush, then truncate and cancel), as a barge-in would.

The real path (hardware.audio.AudioIO) and a naive one (per-chunk ``np.interp``, fresh arrays,
the work done in the callbacks, ``call_soon_threadsafe`` per block) run side by side, each in
its own process, for the same minutes; the whole run is repeated with every core kept busy by
other processes. A third run ("paced") has the server send each 100 ms delta 100 ms after the
previous one (1x real time, no barge-in) to the real path alone: it measures underruns inside
answers and the latency the playout delay adds (first delta received -> first sample played).
Printed and written to ``bench/results/audio_path.json``.

    python -m bench.audio_path [--minutes 10] [--only idle|loaded|paced]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import concurrent.futures
import datetime
import functools
import itertools
import json
import multiprocessing
import os
import platform
import random
import subprocess
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np
import soxr
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from hardware.audio import AudioIO
from hardware.audio.capture import Audibility, CapturePath
from hardware.audio.echo import EchoPolicy
from hardware.audio.resample import StreamResampler
from hardware.settings import AudioSettings, EchoMode, ResampleQuality

RESULTS = Path(__file__).parent / "results" / "audio_path.json"
DEVICE_RATE = 48_000
STREAM_RATE = 24_000
BLOCK = 960  # 20 ms at 48 kHz
BLOCK_S = BLOCK / DEVICE_RATE
DEVICE_PERIODS = 3  # a sound card buffer of 3 periods: a callback later than 2 blocks glitches
SOURCE_SECONDS = 60
DELTA_MS = 100  # audio per response.output_audio.delta
# The server sends each 100 ms delta 33 to 67 ms after the previous one (1.5x to 3x real
# time, as the Realtime API streams faster than it speaks): a buffer that runs dry here does
# so because the path fell behind, not because the network was late.
SEND_INTERVAL_S = (DELTA_MS / 1000 / 3, DELTA_MS / 1000 / 1.5)
REAL_TIME_S = (DELTA_MS / 1000, DELTA_MS / 1000)  # the "paced" run: 1x real time


def percentiles(values: list[float] | np.ndarray[Any, Any]) -> dict[str, float]:
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return {"p50": float("nan"), "p99": float("nan"), "max": float("nan"), "n": 0}
    p50, p99 = np.percentile(data, [50, 99])
    return {"p50": float(p50), "p99": float(p99), "max": float(data.max()), "n": int(data.size)}


def microphone_source(seconds: int = SOURCE_SECONDS) -> np.ndarray[Any, Any]:
    """A voice-like signal (gliding harmonics plus noise) at the device rate, looped."""
    t = np.arange(DEVICE_RATE * seconds) / DEVICE_RATE
    f0 = 160 + 60 * np.sin(2 * np.pi * 0.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / DEVICE_RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 10))
    noise = np.random.default_rng(7).normal(0, 0.05, t.size)
    return np.asarray((voice + noise) * 5000).round().astype(np.int16)


def answer_audio(ms: int, rng: random.Random) -> bytes:
    """Answer audio that is never silent, so the flush measurement sees it stop."""
    t = np.arange(STREAM_RATE * ms // 1000) / STREAM_RATE
    freq = rng.uniform(180, 260)
    return (4000 + 3000 * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


class SimulatedSoundCard:
    """The device clock: calls the input then the output callback every block, in real time.

    A callback starting more than ``DEVICE_PERIODS - 1`` blocks late would have lost input
    and starved output on a real card: that is counted as an xrun in both directions.
    """

    def __init__(self, source: np.ndarray[Any, Any], blocks: int) -> None:
        self.source = source
        self.blocks = blocks
        self.input_callback: Callable[[Any, float], None] | None = None
        self.output_callback: Callable[[Any, float], None] | None = None
        self.input_us = np.zeros(blocks, dtype=np.float64)
        self.output_us = np.zeros(blocks, dtype=np.float64)
        self.input_cpu_us = np.zeros(blocks, dtype=np.float64)
        self.xruns = 0
        self.ticks = 0
        self.flush_requested_at: float | None = None
        self.flush_ms: list[float] = []
        self.flush_blocks: list[int] = []
        self.started = 0  # ticks started: a flush asked during a tick waits for the next
        self.flush_asked_after = 0
        self.sound_starts: list[float] = []
        """When the speaker went from silence to sound (an answer starts playing)."""
        self._audible = False
        self.done = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sound card", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        indata = np.zeros(BLOCK, dtype=np.int16)
        outdata = np.zeros(BLOCK, dtype=np.int16)
        slack = (DEVICE_PERIODS - 1) * BLOCK_S
        due = time.monotonic()
        for k in range(self.blocks):
            if self._stop.is_set():
                break
            delay = due - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            now = time.monotonic()
            if now - due > slack:
                self.xruns += 1
            self.started = k + 1
            start = (k * BLOCK) % len(self.source)
            indata[:] = self.source[start : start + BLOCK]
            c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
            if self.input_callback is not None:
                self.input_callback(indata, now)
            t1, c1 = time.perf_counter_ns(), time.thread_time_ns()
            if self.output_callback is not None:
                self.output_callback(outdata, now)
            t2 = time.perf_counter_ns()
            self.input_us[k] = (t1 - t0) / 1000
            self.input_cpu_us[k] = (c1 - c0) / 1000
            self.output_us[k] = (t2 - t1) / 1000
            audible = bool(outdata.any())
            if audible and not self._audible:
                self.sound_starts.append(now)
            self._audible = audible
            asked = self.flush_requested_at
            if asked is not None and not outdata.any():
                self.flush_ms.append((time.monotonic() - asked) * 1000)
                self.flush_blocks.append(k + 1 - self.flush_asked_after)
                self.flush_requested_at = None
            self.ticks = k + 1
            due += BLOCK_S
        self.done.set()


class CardInput:
    """hardware.audio's AudioInput protocol over the simulated card."""

    sample_rate = DEVICE_RATE
    description = "simulated 48 kHz microphone"
    overflows = 0

    def __init__(self, card: SimulatedSoundCard) -> None:
        self.card = card

    def start(self, callback: Callable[[Any, float], None]) -> None:
        self.card.input_callback = callback

    def stop(self) -> None:
        self.card.input_callback = None


class CardOutput:
    sample_rate = DEVICE_RATE
    description = "simulated 48 kHz speaker"
    underruns = 0

    def __init__(self, card: SimulatedSoundCard) -> None:
        self.card = card

    def start(self, callback: Callable[[Any, float], None]) -> None:
        self.card.output_callback = callback

    def stop(self) -> None:
        self.card.output_callback = None


class NaiveAudio:
    """What a first attempt looks like: resample each chunk with np.interp in the callback.

    Fresh arrays everywhere, one ``call_soon_threadsafe`` per block, a deque of chunks for
    playback that the output callback resamples and concatenates itself.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[tuple[bytes, float]] = asyncio.Queue()
        self.chunks: collections.deque[tuple[str, np.ndarray[Any, Any]]] = collections.deque()
        self.leftover = np.zeros(0, dtype=np.int16)
        self.leftover_item = ""
        self.played: dict[str, int] = collections.defaultdict(int)
        self.cut: set[str] = set()
        self.current = ""
        self.expecting = False
        self.underruns = 0
        self.overflows = 0
        self.index = 0

    def on_input(self, block: np.ndarray[Any, Any], now: float) -> None:
        x = block.astype(np.float64)
        y = np.interp(np.arange(0, len(x), DEVICE_RATE / STREAM_RATE), np.arange(len(x)), x)
        frame = np.round(y).astype(np.int16).tobytes()
        self.loop.call_soon_threadsafe(self.queue.put_nowait, (frame, now))

    def on_output(self, out: np.ndarray[Any, Any], now: float) -> None:
        pieces, items = [self.leftover], [self.leftover_item]
        have = len(self.leftover)
        while have < len(out) and self.chunks:
            item, pcm = self.chunks.popleft()
            up = np.interp(np.arange(0, len(pcm), 0.5), np.arange(len(pcm)), pcm.astype(float))
            pieces.append(np.round(up).astype(np.int16))
            items.append(item)
            have += len(up)
        data = np.concatenate(pieces)
        count = min(len(out), len(data))
        out[:count] = data[:count]
        out[count:] = 0
        # Attribute played samples to items (the last piece's item owns the leftover).
        used, offset = count, 0
        for piece, item in zip(pieces, items, strict=True):
            take = max(0, min(len(piece), used - offset))
            self.played[item] += take
            offset += len(piece)
        self.leftover, self.leftover_item = data[count:], items[-1]
        if count < len(out) and self.expecting:
            self.underruns += 1

    async def frames(self) -> AsyncIterator[tuple[bytes, float]]:
        while True:
            yield await self.queue.get()

    def play(self, item: str, pcm: bytes) -> bool:
        if item in self.cut:
            return False
        self.expecting = True
        self.current = item
        self.chunks.append((item, np.frombuffer(pcm, dtype="<i2")))
        return True

    def finish_item(self, item: str) -> None:
        self.expecting = False

    async def flush(self) -> None:
        self.cut.add(self.current)
        self.chunks.clear()
        self.leftover = np.zeros(0, dtype=np.int16)
        self.expecting = False

    def played_ms(self, item: str) -> int:
        return self.played[item] * 1000 // DEVICE_RATE


async def realtime_server(
    ws: ServerConnection, interval: tuple[float, float] = SEND_INTERVAL_S
) -> None:
    """A Realtime-like peer: swallows audio appends, streams answers, honours cancels."""
    rng = random.Random(11)
    cancelled: set[str] = set()

    async def receive() -> None:
        async for message in ws:
            event = json.loads(message)
            if event["type"] == "input_audio_buffer.append":
                base64.b64decode(event["audio"])
            elif event["type"] == "response.cancel":
                cancelled.add(event["item_id"])

    receiver = asyncio.create_task(receive())
    try:
        await stream_answers(ws, rng, cancelled, interval)
    except ConnectionClosed:
        pass  # the kiosk side hung up: the run is over
    finally:
        receiver.cancel()


async def stream_answers(
    ws: ServerConnection, rng: random.Random, cancelled: set[str], interval: tuple[float, float]
) -> None:
    """Answers of 2 to 6 s, in 100 ms deltas sent ``interval`` apart (on a clock, so time
    spent sending does not slow the pace down), until hung up."""
    loop = asyncio.get_running_loop()
    for number in itertools.count():
        await asyncio.sleep(rng.uniform(1.0, 2.5))
        item = f"item_{number}"
        length_ms = rng.randrange(2000, 6000, DELTA_MS)
        audio = answer_audio(length_ms, rng)
        await ws.send(json.dumps({"type": "response.created", "item_id": item}))
        step = DELTA_MS * 48  # bytes of 24 kHz PCM16 per delta
        due = loop.time()
        for offset in range(0, len(audio), step):
            if item in cancelled:
                break
            await ws.send(
                json.dumps(
                    {
                        "type": "response.output_audio.delta",
                        "item_id": item,
                        "delta": base64.b64encode(audio[offset : offset + step]).decode(),
                    }
                )
            )
            await ws.send(
                json.dumps({"type": "response.output_audio_transcript.delta", "delta": "bonjour "})
            )
            due += rng.uniform(*interval)
            await asyncio.sleep(max(0.0, due - loop.time()))
        await ws.send(json.dumps({"type": "response.output_audio.done", "item_id": item}))


def allocation_peak(on_input: Callable[[Any, float], None], on_output: Callable[..., None]) -> int:
    """Peak bytes allocated while 100 input and output callbacks run (tracemalloc)."""
    block_in = np.ones(BLOCK, dtype=np.int16)
    block_out = np.zeros(BLOCK, dtype=np.int16)
    on_input(block_in, 0.0)
    on_output(block_out, 0.0)
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for i in range(100):
            on_input(block_in, i * BLOCK_S)
            on_output(block_out, i * BLOCK_S)
        return tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()


async def run_path(
    path: str, seconds: float, prebuffer_ms: int, paced: bool = False
) -> dict[str, Any]:
    """One path for ``seconds`` against the local server; returns its figures. ``paced``:
    deltas at 1x real time and no barge-in."""
    loop = asyncio.get_running_loop()
    card = SimulatedSoundCard(microphone_source(), int(seconds / BLOCK_S))
    settings = AudioSettings(echo_mode=EchoMode.OPEN, playback_prebuffer_ms=prebuffer_ms)
    # frame index -> (wall, thread CPU) microseconds: its share of the drain that made it
    drain_us: dict[int, tuple[float, float]] = {}
    audio: Any
    if path == "optimized":
        # The allocation check drives a separate instance, not the one being measured.
        spare = SimulatedSoundCard(microphone_source(1), 0)
        probe = AudioIO(settings, CardInput(spare), CardOutput(spare))
        await probe.start()
        probe.play("probe", answer_audio(2000, random.Random(1)))
        alloc = allocation_peak(probe._on_input, probe._on_output)
        await probe.stop()
        audio = AudioIO(settings, CardInput(card), CardOutput(card))
        await audio.start()
        capture = audio.capture
        real_drain = capture.drain

        def timed_drain(playback: Any) -> Any:
            c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
            frames = real_drain(playback)
            if frames:
                wall = (time.perf_counter_ns() - t0) / 1000 / len(frames)
                cpu = (time.thread_time_ns() - c0) / 1000 / len(frames)
                drain_us.update((frame.index, (wall, cpu)) for frame in frames)
            return frames

        capture.drain = timed_drain
    else:
        probe_naive = NaiveAudio(loop)
        probe_naive.play("probe", answer_audio(2000, random.Random(1)))
        alloc = allocation_peak(probe_naive.on_input, probe_naive.on_output)
        audio = NaiveAudio(loop)
        card.input_callback, card.output_callback = audio.on_input, audio.on_output

    latency_ms: list[float] = []
    frame_us: list[float] = []
    frame_cpu_us: list[float] = []
    play_us: list[float] = []
    checked: list[tuple[int, bytes]] = []
    flushes = {"count": 0, "truncate_ms": []}
    first_delta_at: dict[str, float] = {}
    cpu_start, wall_start = os.times(), time.monotonic()
    handler = functools.partial(realtime_server, interval=REAL_TIME_S if paced else SEND_INTERVAL_S)

    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=None, max_size=None) as ws:

            async def send_frames() -> None:
                async for frame in audio.frames():
                    pcm, captured = (frame.pcm, frame.captured_at) if path == "optimized" else frame
                    c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
                    encoded = base64.b64encode(pcm).decode()
                    message = json.dumps({"type": "input_audio_buffer.append", "audio": encoded})
                    encode_us = (time.perf_counter_ns() - t0) / 1000
                    encode_cpu_us = (time.thread_time_ns() - c0) / 1000
                    await ws.send(message)
                    latency_ms.append((time.monotonic() - captured) * 1000)
                    index = len(latency_ms) - 1
                    if path == "optimized":
                        wall, cpu = drain_us.pop(frame.index, (0.0, 0.0))
                        if frame.index % 50 == 0:
                            checked.append((frame.start, pcm))
                    else:
                        # The naive path does its work in the callback: one block, one frame.
                        block = min(index, card.blocks - 1)
                        wall, cpu = card.input_us[block], card.input_cpu_us[block]
                    frame_us.append(wall + encode_us)
                    frame_cpu_us.append(cpu + encode_cpu_us)

            async def barge_in(item: str) -> None:
                for _ in range(1000):  # interrupt once half a second has been heard
                    if audio.played_ms(item) >= 500:
                        break
                    await asyncio.sleep(0.01)
                flushes["count"] += 1
                card.flush_asked_after = card.started
                card.flush_requested_at = time.monotonic()
                await audio.flush()
                flushes["truncate_ms"].append(audio.played_ms(item))
                await ws.send(json.dumps({"type": "response.cancel", "item_id": item}))

            async def receive() -> None:
                tasks = set()
                async for message in ws:
                    event = json.loads(message)
                    kind = event["type"]
                    if kind == "response.output_audio.delta":
                        first_delta_at.setdefault(event["item_id"], time.monotonic())
                        t0 = time.perf_counter_ns()
                        audio.play(event["item_id"], base64.b64decode(event["delta"]))
                        play_us.append((time.perf_counter_ns() - t0) / 1000 / (DELTA_MS / 20))
                    elif kind == "response.output_audio.done":
                        audio.finish_item(event["item_id"])
                    elif (
                        kind == "response.created"
                        and not paced
                        and int(event["item_id"][5:]) % 3 == 2
                    ):
                        task = asyncio.create_task(barge_in(event["item_id"]))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)

            workers = [asyncio.create_task(send_frames()), asyncio.create_task(receive())]
            card.start()
            await asyncio.to_thread(card.done.wait)
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            card.stop()

    cpu_end, wall = os.times(), time.monotonic() - wall_start
    cpu_s = (cpu_end.user - cpu_start.user) + (cpu_end.system - cpu_start.system)
    if path == "optimized":
        await audio.stop()
        stats = audio.stats()
        ring_overflows, buffer_underruns = stats.input_overflows, stats.output_underruns
        inside_answers = audio.playback.buffer.underruns
        playout_ms = audio.playback.buffer.playout.delay_ms
    else:
        ring_overflows, buffer_underruns = audio.overflows, audio.underruns
        inside_answers, playout_ms = audio.underruns, None
    ticks = card.ticks
    added = [
        (next(s for s in card.sound_starts if s >= at) - at) * 1000
        for at in sorted(first_delta_at.values())
        if any(s >= at for s in card.sound_starts)
    ]
    return {
        "path": path,
        "seconds": round(wall, 1),
        "frames_sent": len(latency_ms),
        "per_frame_us": percentiles(frame_us),
        "per_frame_cpu_us": percentiles(frame_cpu_us),
        "playback_per_20ms_us": percentiles(play_us),
        "capture_to_send_ms": percentiles(latency_ms),
        "input_callback_us": percentiles(card.input_us[:ticks]),
        "output_callback_us": percentiles(card.output_us[:ticks]),
        "callback_alloc_peak_bytes": alloc,
        "device_xruns": card.xruns,
        "input_overflows": card.xruns + ring_overflows,
        "output_underruns": card.xruns + buffer_underruns,
        "flushes": flushes["count"],
        "flush_to_silence_ms": percentiles(card.flush_ms),
        "flush_to_silence_blocks_max": max(card.flush_blocks, default=None),
        "cpu_percent_of_one_core": round(100 * cpu_s / wall, 1),
        "frames_checked": checked_errors(checked, ticks) if path == "optimized" else None,
        "answers": len(first_delta_at),
        "underruns_inside_answers": inside_answers,
        "added_latency_ms": percentiles(added),
        "playout_delay_ms_at_end": playout_ms,
    }


def checked_errors(checked: list[tuple[int, bytes]], ticks: int) -> dict[str, int]:
    """Sampled frames against a one-shot conversion of the whole microphone stream."""
    source = microphone_source()
    stream = np.tile(source, ticks * BLOCK // len(source) + 1)[: ticks * BLOCK]
    reference = soxr.resample(stream, DEVICE_RATE, STREAM_RATE, quality="LQ")
    worst = 0
    for start, pcm in checked:
        got = np.frombuffer(pcm, dtype="<i2").astype(np.int32)
        want = reference[start : start + len(got)].astype(np.int32)
        worst = max(worst, int(np.abs(got[: len(want)] - want[: len(got)]).max()))
    return {"frames": len(checked), "max_error_lsb": worst}


def worker(
    path: str, seconds: float, nice: int, prebuffer_ms: int, paced: bool = False
) -> dict[str, Any]:
    if nice:
        os.nice(nice)  # as a kiosk's systemd unit would (Nice=); negative needs root
    return asyncio.run(run_path(path, seconds, prebuffer_ms, paced))


def busy_loop() -> None:
    while True:
        pass


def fidelity() -> dict[str, Any]:
    """Chunked (20 ms) vs one-shot conversion of 10 s of voice, in int16 LSB."""
    voice = microphone_source(10)
    results: dict[str, Any] = {}
    for name, rate_in, rate_out, quality, block in (
        ("capture 48k->24k LQ", DEVICE_RATE, STREAM_RATE, ResampleQuality.LQ, BLOCK),
        ("capture 48k->24k HQ", DEVICE_RATE, STREAM_RATE, ResampleQuality.HQ, BLOCK),
        ("playback 24k->48k HQ", STREAM_RATE, DEVICE_RATE, ResampleQuality.HQ, 480),
    ):
        signal = voice if rate_in == DEVICE_RATE else soxr.resample(voice, DEVICE_RATE, rate_in)
        resampler = StreamResampler(rate_in, rate_out, quality)
        parts = [resampler.process(signal[i : i + block]) for i in range(0, len(signal), block)]
        chunked = np.concatenate([*parts, resampler.finish()]).astype(np.int32)
        whole = soxr.resample(signal, rate_in, rate_out, quality=quality.value).astype(np.int32)
        ratio = rate_out / rate_in
        naive = np.concatenate(
            [
                np.interp(np.arange(0, len(c), 1 / ratio), np.arange(len(c)), c.astype(float))
                for c in (signal[i : i + block] for i in range(0, len(signal), block))
            ]
        ).round()
        results[name] = {
            "chunked_vs_one_shot_max_lsb": int(np.abs(chunked - whole).max()),
            "naive_interp_vs_one_shot_max_lsb": int(
                np.abs(naive[: len(whole)] - whole[: len(naive)]).max()
            ),
        }
    return results


def warm_per_frame() -> dict[str, Any]:
    """Per-frame cost back to back (caches warm): what the code costs, not the machine.

    Between two device blocks a kiosk's caches fill with other work; run every 20 ms on a
    shared virtual machine, the same code costs several times more (see docs/BENCHMARKS.md).
    """
    source = microphone_source(60)
    capture = CapturePath(DEVICE_RATE, DEVICE_RATE, EchoPolicy(EchoMode.OPEN))
    never = Audibility(float("-inf"), float("-inf"))
    naive_frames: list[tuple[bytes, float]] = []

    class Loop:
        def call_soon_threadsafe(self, callback: Callable[..., None], *args: Any) -> None:
            naive_frames.append(args[0])

    naive = NaiveAudio(Loop())  # type: ignore[arg-type]  # only call_soon_threadsafe is used
    timings: dict[str, list[float]] = {"optimized": [], "naive": []}
    for k in range(3000):
        block = source[k * BLOCK : (k + 1) * BLOCK]
        t0 = time.perf_counter_ns()
        capture.on_input(block, k * BLOCK_S)
        for frame in capture.drain(never):
            json.dumps(
                {"type": "input_audio_buffer.append", "audio": base64.b64encode(frame.pcm).decode()}
            )
        t1 = time.perf_counter_ns()
        naive.on_input(block, k * BLOCK_S)
        pcm, _ = naive_frames.pop()
        json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()})
        t2 = time.perf_counter_ns()
        if k >= 100:
            timings["optimized"].append((t1 - t0) / 1000)
            timings["naive"].append((t2 - t1) / 1000)
    return {path: percentiles(values) for path, values in timings.items()}


def machine() -> dict[str, Any]:
    model = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    name = next(
        (
            line.split(":", 1)[1].strip()
            for line in model.splitlines()
            if line.startswith("Model name")
        ),
        platform.processor(),
    )
    return {
        "nproc": os.cpu_count(),
        "cpu": name,
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "load_average_at_start": os.getloadavg(),
    }


def sample_load(stop: threading.Event, samples: list[float]) -> None:
    """The 1-minute load average every 10 s: other work on the machine shows up here."""
    while not stop.wait(10):
        samples.append(os.getloadavg()[0])


def run_condition(name: str, seconds: float, nice: int, prebuffer_ms: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    loads: list[float] = []
    stop = threading.Event()
    sampler = threading.Thread(target=sample_load, args=(stop, loads), daemon=True)
    sampler.start()
    hogs = []
    if name == "loaded":
        hogs = [context.Process(target=busy_loop, daemon=True) for _ in range(os.cpu_count() or 1)]
        for hog in hogs:
            hog.start()
    try:
        paths = ("optimized",) if name == "paced" else ("optimized", "naive")
        with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
            futures = {
                path: pool.submit(worker, path, seconds, nice, prebuffer_ms, name == "paced")
                for path in paths
            }
            result: dict[str, Any] = {path: future.result() for path, future in futures.items()}
        result["load_average_1m"] = {
            "mean": float(np.mean(loads)) if loads else None,
            "max": max(loads, default=None),
        }
        return result
    finally:
        stop.set()
        for hog in hogs:
            hog.terminate()
            hog.join()


def report(results: dict[str, Any]) -> None:
    rows = [
        ("per-frame processing p50/p99 (us)", "per_frame_us", "p50", "p99", 1),
        ("  of which on-CPU p50/p99 (us)", "per_frame_cpu_us", "p50", "p99", 1),
        ("capture-to-send p50/p99 (ms)", "capture_to_send_ms", "p50", "p99", 2),
        ("input callback p50/p99 (us)", "input_callback_us", "p50", "p99", 1),
        ("output callback p50/p99 (us)", "output_callback_us", "p50", "p99", 1),
        ("playback per 20 ms p50/p99 (us)", "playback_per_20ms_us", "p50", "p99", 1),
        ("flush-to-silence p50/max (ms)", "flush_to_silence_ms", "p50", "max", 1),
    ]
    if "paced" in results:
        paced = results["paced"]["optimized"]
        added = paced["added_latency_ms"]
        print(
            f"\n== paced: 100 ms deltas at 1x real time, {paced['seconds']:.0f} s ==\n"
            f"answers {paced['answers']}, underruns inside answers "
            f"{paced['underruns_inside_answers']}, device xruns {paced['device_xruns']}, "
            f"added latency p50 {added['p50']:.1f} / p99 {added['p99']:.1f} / max "
            f"{added['max']:.1f} ms, playout delay at the end "
            f"{paced['playout_delay_ms_at_end']} ms"
        )
    for condition in ("idle", "loaded"):
        if condition not in results:
            continue
        opt, naive = results[condition]["optimized"], results[condition]["naive"]
        load = results[condition]["load_average_1m"]
        print(f"\n== {condition} machine, {opt['seconds']:.0f} s (load average {load}) ==")
        print(f"{'':38}{'optimized':>22}{'naive':>22}{'naive/opt':>11}")
        for label, key, a, b, digits in rows:
            o, n = opt[key], naive[key]
            ratio = n[b] / o[b] if o[b] else float("nan")
            print(
                f"{label:38}{o[a]:>10.{digits}f} /{o[b]:>9.{digits}f}"
                f"{n[a]:>10.{digits}f} /{n[b]:>9.{digits}f}{ratio:>10.1f}x"
            )
        for label, key in (
            ("input overflows", "input_overflows"),
            ("output underruns", "output_underruns"),
            ("flushes", "flushes"),
            ("device blocks until silence (max)", "flush_to_silence_blocks_max"),
            ("callback allocation peak (bytes)", "callback_alloc_peak_bytes"),
            ("CPU (% of one core)", "cpu_percent_of_one_core"),
        ):
            print(f"{label:38}{opt[key]:>22}{naive[key]:>22}")
        print(
            f"{'sampled frames vs one-shot (LSB)':38}{opt['frames_checked']['max_error_lsb']:>22}"
        )
    warm = results["warm_per_frame_us"]
    print(
        "\nper-frame processing back to back, caches warm, p50/p99 (us): "
        f"optimized {warm['optimized']['p50']:.1f} / {warm['optimized']['p99']:.1f}, "
        f"naive {warm['naive']['p50']:.1f} / {warm['naive']['p99']:.1f}"
    )
    print("\nresampling fidelity, chunked 20 ms vs one-shot (max abs error, int16 LSB):")
    for name, figures in results["fidelity"].items():
        print(
            f"  {name:24} soxr stream {figures['chunked_vs_one_shot_max_lsb']:>3}"
            f"   naive np.interp {figures['naive_interp_vs_one_shot_max_lsb']:>6}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="per condition (10)")
    parser.add_argument("--only", choices=("idle", "loaded", "paced"), help="run one condition")
    parser.add_argument(
        "--nice", type=int, default=0, help="niceness of the audio processes (-10: as root)"
    )
    parser.add_argument(
        "--prebuffer-ms",
        type=int,
        default=AudioSettings().playback_prebuffer_ms,
        help="the real path's playback prebuffer (default: the kiosk's)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"JSON ({RESULTS})")
    args = parser.parse_args()
    seconds = args.minutes * 60
    results: dict[str, Any] = {
        "machine": machine(),
        "minutes": args.minutes,
        "nice": args.nice,
        "prebuffer_ms": args.prebuffer_ms,
    }
    results["fidelity"] = fidelity()
    results["warm_per_frame_us"] = warm_per_frame()
    for condition in ("idle", "loaded", "paced"):
        if args.only in (None, condition):
            print(f"running {condition}: {args.minutes:g} min ...", flush=True)
            results[condition] = run_condition(condition, seconds, args.nice, args.prebuffer_ms)
    results["machine"]["load_average_at_end"] = os.getloadavg()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2))
    report(results)
    print(f"\nwritten to {args.output}")


if __name__ == "__main__":
    main()
