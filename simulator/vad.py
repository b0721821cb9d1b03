"""An energy-based server VAD on the session's audio timeline (sans-I/O, deterministic).

Time is audio time: milliseconds of PCM appended since the session began, never the wall
clock, so a client may stream faster than real time and still get the same events. The
audio is measured in 10 ms windows; a window is voiced when its RMS level is above the
threshold mapped to dBFS (`threshold` 0.5 → -40 dBFS, 1.0 → -10 dBFS, 0.0 → -70 dBFS).
Speech starts after `MIN_SPEECH_MS` of consecutive voiced windows and is reported from
`prefix_padding_ms` before its first voiced window; it stops after `silence_duration_ms`
without a voiced window, and the stop is reported at the end of that silence, as OpenAI's
`audio_end_ms` includes it.
"""

from __future__ import annotations

import math
import sys
from array import array
from dataclasses import dataclass

from simulator.config import TurnDetection

WINDOW_MS = 10
WINDOW_SAMPLES = 240
WINDOW_BYTES = WINDOW_SAMPLES * 2
MIN_SPEECH_MS = 50


def threshold_dbfs(threshold: float) -> float:
    return -70.0 + 60.0 * threshold


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    audio_start_ms: int


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    audio_end_ms: int


VadEvent = SpeechStarted | SpeechStopped


class EnergyVad:
    """PCM16 in (any chunk size), speech start/stop events out."""

    def __init__(self, detection: TurnDetection) -> None:
        self.detection = detection
        self._level = 32768.0 * 10 ** (threshold_dbfs(detection.threshold) / 20)
        self._pending = b""
        self._windows = 0
        self._voiced_run = 0
        self._last_voiced_end_ms = 0
        self.speaking = False

    @property
    def position_ms(self) -> int:
        """Audio time of the end of the last complete window."""
        return self._windows * WINDOW_MS

    def reconfigure(self, detection: TurnDetection) -> None:
        """New settings from `session.update`; the timeline and speech state carry on."""
        self.detection = detection
        self._level = 32768.0 * 10 ** (threshold_dbfs(detection.threshold) / 20)

    def feed(self, pcm: bytes) -> list[VadEvent]:
        data = self._pending + pcm
        whole = len(data) // WINDOW_BYTES * WINDOW_BYTES
        self._pending = data[whole:]
        events: list[VadEvent] = []
        for offset in range(0, whole, WINDOW_BYTES):
            window = array("h")
            window.frombytes(data[offset : offset + WINDOW_BYTES])
            if sys.byteorder != "little":
                window.byteswap()
            rms = math.sqrt(sum(s * s for s in window) / WINDOW_SAMPLES)
            self._windows += 1
            event = self._step(rms > self._level)
            if event is not None:
                events.append(event)
        return events

    def _step(self, voiced: bool) -> VadEvent | None:
        end_ms = self.position_ms
        if voiced:
            self._voiced_run += WINDOW_MS
            self._last_voiced_end_ms = end_ms
            if not self.speaking and self._voiced_run >= MIN_SPEECH_MS:
                self.speaking = True
                first_voiced = end_ms - self._voiced_run
                return SpeechStarted(max(0, first_voiced - self.detection.prefix_padding_ms))
            return None
        self._voiced_run = 0
        silence = end_ms - self._last_voiced_end_ms
        if self.speaking and silence >= self.detection.silence_duration_ms:
            self.speaking = False
            return SpeechStopped(end_ms)
        return None
