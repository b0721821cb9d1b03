"""Playback of the assistant's 24 kHz PCM16 audio: decode, resample per item, queue.

Each response item gets a fresh resampler state, and its filter tail is flushed into it when
the next item starts or the item finishes, so every device sample belongs to exactly one
item and played-time accounting per item is exact.
"""

from __future__ import annotations

import sys

import numpy as np

from hardware.audio.playback_buffer import PlaybackBuffer
from hardware.audio.resample import StreamResampler
from hardware.audio.ring import Samples
from hardware.settings import ResampleQuality

STREAM_RATE = 24_000
"""The Realtime API's audio rate (PCM16, mono, little-endian)."""
_CUT_ITEMS_REMEMBERED = 64


def pcm16_to_samples(pcm: bytes) -> Samples:
    """Little-endian PCM16 bytes as int16 samples (a view when the machine is little-endian)."""
    if len(pcm) % 2:
        raise ValueError(f"PCM16 audio has an even number of bytes, got {len(pcm)}")
    samples = np.frombuffer(pcm, dtype="<i2")
    if sys.byteorder != "little":
        return samples.astype(np.int16)
    return samples.view(np.int16)


class PlaybackPath:
    """What the kiosk plays: response items in, device-rate samples queued for the callback."""

    def __init__(
        self,
        device_rate: int,
        capacity: int,
        prebuffer: int,
        quality: ResampleQuality = ResampleQuality.HQ,
        prebuffer_max: int | None = None,
    ) -> None:
        self.device_rate = device_rate
        self.buffer = PlaybackBuffer(
            capacity=capacity, prebuffer=prebuffer, rate=device_rate, prebuffer_max=prebuffer_max
        )
        self._resampler = StreamResampler(STREAM_RATE, device_rate, quality)
        self._current: str | None = None
        self._cut: dict[str, None] = {}  # insertion-ordered set of items cut by a flush

    @property
    def current_item(self) -> str | None:
        return self._current

    def play(self, item_id: str, pcm: bytes) -> bool:
        """Queue a chunk of ``item_id``; False when the item was cut by a flush (dropped)."""
        if item_id in self._cut:
            return False
        samples = pcm16_to_samples(pcm)
        if item_id != self._current:
            self._close_current()
            self._current = item_id
        self.buffer.write(item_id, self._resampler.process(samples))
        return True

    def finish_item(self, item_id: str) -> None:
        """The item's audio is complete: push its filter tail and let the buffer drain."""
        if item_id == self._current:
            self._close_current()
        self.buffer.end_of_stream()

    def flush(self) -> None:
        """Silence within one device block; later chunks of the cut items are dropped."""
        if self._current is not None:
            self._cut[self._current] = None
            while len(self._cut) > _CUT_ITEMS_REMEMBERED:
                del self._cut[next(iter(self._cut))]
        self._current = None
        self._resampler.reset()
        self.buffer.request_flush()

    def played_ms(self, item_id: str) -> int:
        """Milliseconds of ``item_id`` handed to the device (what a truncate should say)."""
        return self.buffer.played_samples(item_id) * 1000 // self.device_rate

    def _close_current(self) -> None:
        if self._current is None:
            return
        tail = self._resampler.finish()
        if len(tail):
            self.buffer.write(self._current, tail)
        self._current = None
