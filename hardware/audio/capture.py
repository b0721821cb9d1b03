"""The microphone path: device blocks in, 20 ms frames of 24 kHz PCM16 out.

The device callback (:meth:`CapturePath.on_input`) only copies the block into a preallocated
ring and notes when it arrived. Everything else runs in the event loop (:meth:`drain`): level
metering, stateful resampling to 24 kHz, cutting into 20 ms frames, the echo gate, and
stamping each frame with the arrival time of the device block its newest sample came from,
so capture-to-send latency can be measured end to end.
"""

from __future__ import annotations

import sys
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hardware.audio.echo import EchoPolicy
from hardware.audio.level import LevelMeter
from hardware.audio.playback import STREAM_RATE
from hardware.audio.resample import StreamResampler
from hardware.audio.ring import SampleRing, Samples
from hardware.settings import ResampleQuality

FRAME_MS = 20
FRAME_SAMPLES = STREAM_RATE * FRAME_MS // 1000
FRAME_BYTES = FRAME_SAMPLES * 2
SILENT_FRAME = bytes(FRAME_BYTES)
FRAME_LEAD = 24
"""Samples of silence (1 ms) the stream starts with, so frames end just before block edges.

A frame cut exactly at a block's end needs the resampler's look-ahead, which only comes with
the next block: it waits one block whatever happens, and two when soxr's output runs late
(its LQ stream lags between 1 and 20 ms in a sawtooth; 2 % of frames at 48 kHz). Ending
frames 1 ms earlier keeps every frame to one block. Each frame still starts where the
previous one ended; only the first is shifted.
"""
_BLOCK_SLOTS = 256  # device blocks the event loop may fall behind on before losing their times


@dataclass(frozen=True, slots=True)
class CapturedFrame:
    """20 ms of microphone audio ready for ``input_audio_buffer.append``."""

    pcm: bytes
    """480 samples of 24 kHz mono PCM16, little-endian (960 bytes)."""
    captured_at: float
    """``time.monotonic()`` when the device delivered the block holding the newest sample."""
    muted: bool
    """The echo gate replaced the microphone with silence (the kiosk was speaking)."""
    index: int
    """Frame number since the path started: frame ``i`` starts at ``i * 20`` ms."""


@dataclass(frozen=True, slots=True)
class Audibility:
    """When the speaker was playing, as the echo gate needs it (device-callback times)."""

    since: float
    """Start of the most recent stretch of audible playback."""
    last: float
    """The most recent callback that played audio."""


class CapturePath:
    """Microphone blocks at the device rate in, :class:`CapturedFrame` out."""

    def __init__(
        self,
        device_rate: int,
        capacity: int,
        echo: EchoPolicy,
        quality: ResampleQuality = ResampleQuality.LQ,
        lead: int = FRAME_LEAD,
    ) -> None:
        if not 0 <= lead < FRAME_SAMPLES:
            raise ValueError(f"the frame lead must be below one frame, got {lead}")
        self.device_rate = device_rate
        self.lead = lead
        self._ring = SampleRing(capacity)
        self._echo = echo
        # Device-thread owned.
        self._block_ends: npt.NDArray[np.int64] = np.zeros(_BLOCK_SLOTS, dtype=np.int64)
        self._block_times: npt.NDArray[np.float64] = np.zeros(_BLOCK_SLOTS, dtype=np.float64)
        self._blocks_written = 0
        self.overflows = 0
        """Device blocks that did not fit in the ring whole (the event loop fell behind)."""
        self.overflow_samples = 0
        # Event-loop owned.
        self._blocks_read = 0
        self._scratch: Samples = np.zeros(capacity, dtype=np.int16)
        self._resampler = StreamResampler(device_rate, STREAM_RATE, quality)
        self._frame: Samples = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        self._frame_fill = lead  # the first frame opens with `lead` samples of silence
        self._frames_made = 0
        self._origins: deque[tuple[int, float]] = deque()
        self.meter = LevelMeter()
        self.muted_frames = 0

    # ----------------------------------------------------------------- device thread

    def on_input(self, block: Samples, now: float) -> None:
        """Device callback: copy the block and note its arrival time; nothing else."""
        written = self._ring.write(block)
        if written < len(block):
            self.overflows += 1
            self.overflow_samples += len(block) - written
        slot = self._blocks_written % _BLOCK_SLOTS
        self._block_ends[slot] = self._ring.written
        self._block_times[slot] = now
        self._blocks_written += 1

    # ----------------------------------------------------------------- event loop

    @property
    def pending_samples(self) -> int:
        """Device samples copied by the callback and not yet drained."""
        return self._ring.available

    def drain(self, playback: Audibility) -> list[CapturedFrame]:
        """Process every block the device delivered since the last call."""
        frames: list[CapturedFrame] = []
        blocks = self._blocks_written
        if blocks - self._blocks_read > _BLOCK_SLOTS:
            # Older block times were overwritten; their samples are still in the ring and are
            # stamped with the first time still known.
            self._blocks_read = blocks - _BLOCK_SLOTS
        while self._blocks_read < blocks:
            slot = self._blocks_read % _BLOCK_SLOTS
            end = int(self._block_ends[slot])
            arrived = float(self._block_times[slot])
            self._blocks_read += 1
            count = self._ring.read_into(self._scratch, end - self._ring.read_position)
            if count == 0:
                continue
            self._origins.append((end, arrived))
            chunk = self._scratch[:count]
            self.meter.update(chunk)
            self._cut_frames(self._resampler.process(chunk), frames, playback)
        return frames

    def _cut_frames(
        self, samples: Samples, frames: list[CapturedFrame], playback: Audibility
    ) -> None:
        offset = 0
        while offset < len(samples):
            take = min(FRAME_SAMPLES - self._frame_fill, len(samples) - offset)
            self._frame[self._frame_fill : self._frame_fill + take] = samples[
                offset : offset + take
            ]
            self._frame_fill += take
            offset += take
            if self._frame_fill == FRAME_SAMPLES:
                frames.append(self._emit(playback))
                self._frame_fill = 0

    def _emit(self, playback: Audibility) -> CapturedFrame:
        index = self._frames_made
        self._frames_made += 1
        captured_at = self._origin_of(index)
        muted = self._echo.mutes(captured_at, playback.since, playback.last)
        if muted:
            self.muted_frames += 1
            pcm = SILENT_FRAME
        elif sys.byteorder == "little":
            pcm = self._frame.tobytes()
        else:
            pcm = self._frame.astype("<i2").tobytes()
        return CapturedFrame(pcm=pcm, captured_at=captured_at, muted=muted, index=index)

    def _origin_of(self, index: int) -> float:
        """Arrival time of the block holding the frame's newest sample.

        The resampler keeps input and output aligned (output sample ``m`` sits at input
        position ``m * device_rate / 24000``), so the position maps to the block that
        delivered it, and the frame is as old as that block.
        """
        newest = max(0, (index + 1) * FRAME_SAMPLES - 1 - self.lead)
        position = newest * self.device_rate // STREAM_RATE
        while len(self._origins) > 1 and self._origins[0][0] <= position:
            self._origins.popleft()
        return self._origins[0][1]
