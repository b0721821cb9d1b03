"""The microphone path: device blocks in, frames of 24 kHz PCM16 out as soon as they exist.

The device callback (:meth:`CapturePath.on_input`) only copies the block into a preallocated
ring and notes when it arrived. Everything else runs in the event loop (:meth:`drain`): level
metering, stateful resampling to 24 kHz, the echo gate, and stamping each frame with the
arrival time of the device block it came from, so capture-to-send latency can be measured
end to end.

A frame is what the resampler gives for one device block, cut where its output is: about
20 ms with 20 ms blocks (soxr's `LQ` stream at 48 kHz gives 470 samples, now and then 940
or none as its output runs a little behind). Cutting fixed 480-sample frames instead made
every frame wait for the next block, whose arrival releases the resampler's look-ahead: a
frame left 20 ms after its newest sample. The Realtime API takes appends of any length, and
the frames, put end to end, are the stream resampled whole (within 2 LSB).
"""

from __future__ import annotations

import sys
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
"""A frame's nominal length: what one 20 ms device block resamples to."""
MAX_FRAME_SAMPLES = 4 * STREAM_RATE * FRAME_MS // 1000
"""Longer output (the loop fell behind, or a device delivered a burst) leaves in pieces of
80 ms at most, each as late as the block it came from."""
_BLOCK_SLOTS = 256  # device blocks the event loop may fall behind on before losing their times


@dataclass(frozen=True, slots=True)
class CapturedFrame:
    """Microphone audio ready for ``input_audio_buffer.append``."""

    pcm: bytes
    """24 kHz mono PCM16, little-endian: what one device block resampled to."""
    captured_at: float
    """``time.monotonic()`` when the device delivered the block the frame came from."""
    muted: bool
    """The echo gate replaced the microphone with silence (the kiosk was speaking)."""
    index: int
    """Frame number since the path started."""
    start: int
    """Position of the frame's first sample in the 24 kHz stream since the path started."""


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
    ) -> None:
        self.device_rate = device_rate
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
        self._frames_made = 0
        self._stream_position = 0
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
        """Process every block the device delivered since the last call: one frame per
        block, as soon as the resampler gives its samples."""
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
            chunk = self._scratch[:count]
            self.meter.update(chunk)
            resampled = self._resampler.process(chunk)
            for start in range(0, len(resampled), MAX_FRAME_SAMPLES):
                piece = resampled[start : start + MAX_FRAME_SAMPLES]
                frames.append(self._emit(piece, arrived, playback))
        return frames

    def _emit(self, samples: Samples, arrived: float, playback: Audibility) -> CapturedFrame:
        index, start = self._frames_made, self._stream_position
        self._frames_made += 1
        self._stream_position += len(samples)
        muted = self._echo.mutes(arrived, playback.since, playback.last)
        if muted:
            self.muted_frames += 1
            pcm = bytes(2 * len(samples))
        elif sys.byteorder == "little":
            pcm = samples.tobytes()
        else:
            pcm = samples.astype("<i2").tobytes()
        return CapturedFrame(pcm=pcm, captured_at=arrived, muted=muted, index=index, start=start)
