"""Stateful sample-rate conversion between a device's rate and the 24 kHz stream, with soxr.

Resampling each chunk on its own restarts the filter at every chunk edge, which clicks; a
stream resampler carries the filter state from one chunk to the next, so a stream cut in
20 ms pieces comes out as if it had been converted whole (within 2 LSB here).

The quality is a trade-off measured on this path (docs/HARDWARE.md): soxr's ``HQ`` works in
blocks of about 35 ms, so a 20 ms chunk can wait up to a block for its output, while ``LQ``
delivers every chunk's output at once (at most 20 ms behind), flat to 9 kHz with more than
100 dB of alias rejection. The microphone path uses ``LQ`` by default: speech recognition
does not use content above 8 kHz and latency there delays every answer. Playback uses
``HQ``: the kiosk buffers it anyway, and the voice keeps its top octave.
"""

from __future__ import annotations

import numpy as np
import soxr

from hardware.audio.ring import Samples
from hardware.settings import ResampleQuality

_EMPTY: Samples = np.zeros(0, dtype=np.int16)


class StreamResampler:
    """Mono int16 stream conversion from ``in_rate`` to ``out_rate``, chunk by chunk."""

    def __init__(
        self, in_rate: int, out_rate: int, quality: ResampleQuality = ResampleQuality.HQ
    ) -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {in_rate} and {out_rate}")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.quality = quality
        self._stream: soxr.ResampleStream | None = None
        if in_rate != out_rate:
            self._stream = soxr.ResampleStream(
                in_rate, out_rate, 1, dtype="int16", quality=quality.value
            )

    @property
    def passthrough(self) -> bool:
        return self._stream is None

    def process(self, samples: Samples) -> Samples:
        """Convert the next chunk; the output may be shorter while the filter fills."""
        if self._stream is None:
            return samples
        result: Samples = self._stream.resample_chunk(samples, last=False)
        return result

    def finish(self) -> Samples:
        """The samples still inside the filter, then a clean state for a new stream."""
        if self._stream is None:
            return _EMPTY
        tail: Samples = self._stream.resample_chunk(_EMPTY, last=True)
        self._stream.clear()
        return tail

    def reset(self) -> None:
        """Forget the filter state (after a flush: the old audio must not leak out)."""
        if self._stream is not None:
            self._stream.clear()
