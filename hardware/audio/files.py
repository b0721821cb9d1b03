"""File-backed audio devices for simulation, the demo and tests: WAV in, WAV or nothing out.

They honour the same protocols as the sound card adapters and are paced by a
:class:`~hardware.audio.clock.BlockClock`, so the audio path under them runs exactly as it
does on a kiosk (optionally faster than real time with ``speed``).
"""

from __future__ import annotations

import threading
import wave
from pathlib import Path

import numpy as np

from hardware.audio.clock import BlockClock
from hardware.audio.devices import AudioDeviceError, InputCallback, OutputCallback
from hardware.audio.ring import Samples


def read_wav(path: Path) -> tuple[Samples, int]:
    """Mono int16 samples and the sample rate of a 16-bit PCM WAV (stereo is averaged)."""
    try:
        with wave.open(str(path), "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            data = wav.readframes(wav.getnframes())
    except FileNotFoundError as exc:
        raise AudioDeviceError(f"no WAV file at {path}") from exc
    except (wave.Error, EOFError) as exc:
        raise AudioDeviceError(
            f"{path} is not a PCM WAV file ({exc}); convert it with "
            f"`sox {path} -b 16 -e signed-integer out.wav`"
        ) from exc
    if width != 2:
        raise AudioDeviceError(
            f"{path} has {8 * width}-bit samples; the audio path reads 16-bit PCM: convert it "
            f"with `sox {path} -b 16 out.wav`"
        )
    frames = np.frombuffer(data, dtype="<i2").astype(np.int16).reshape(-1, channels)
    if channels == 1:
        return frames[:, 0].copy(), rate
    return frames.mean(axis=1).round().astype(np.int16), rate


def block_frames(sample_rate: int, block_ms: int) -> int:
    return sample_rate * block_ms // 1000


class WavFileInput:
    """Plays a WAV file into the capture path as a microphone would, then silence."""

    def __init__(
        self, path: Path, block_ms: int = 20, *, speed: float = 1.0, loop: bool = False
    ) -> None:
        self._path = path
        self._samples, self._rate = read_wav(path)
        self._block: Samples = np.zeros(block_frames(self._rate, block_ms), dtype=np.int16)
        self._loop = loop
        self._position = 0
        self._callback: InputCallback | None = None
        self._clock = BlockClock(block_ms / 1000, self._tick, f"wav input {path.name}", speed)
        self.finished = threading.Event()
        """Set once the whole file has been delivered (never, when looping)."""

    @property
    def sample_rate(self) -> int:
        return self._rate

    @property
    def description(self) -> str:
        return f"WAV input {self._path} @ {self._rate} Hz"

    @property
    def overflows(self) -> int:
        return self._clock.late_ticks

    def start(self, callback: InputCallback) -> None:
        self._callback = callback
        self._clock.start()

    def stop(self) -> None:
        self._clock.stop()

    def _tick(self, now: float) -> None:
        block, total = self._block, len(self._samples)
        filled = 0
        while filled < len(block) and self._position < total:
            take = min(len(block) - filled, total - self._position)
            block[filled : filled + take] = self._samples[self._position : self._position + take]
            filled += take
            self._position += take
            if self._position == total and self._loop:
                self._position = 0
        block[filled:] = 0
        if self._position >= total and not self._loop:
            self.finished.set()
        if self._callback is not None:
            self._callback(block, now)


class NullOutput:
    """A speaker that plays nothing, at the pace of a real one, and counts what it played."""

    def __init__(self, sample_rate: int, block_ms: int = 20, *, speed: float = 1.0) -> None:
        self._rate = sample_rate
        self._block: Samples = np.zeros(block_frames(sample_rate, block_ms), dtype=np.int16)
        self._callback: OutputCallback | None = None
        self._clock = BlockClock(block_ms / 1000, self._tick, "null output", speed)
        self.samples_played = 0
        self.nonzero_samples = 0

    @property
    def sample_rate(self) -> int:
        return self._rate

    @property
    def description(self) -> str:
        return f"null output @ {self._rate} Hz"

    @property
    def underruns(self) -> int:
        return self._clock.late_ticks

    def start(self, callback: OutputCallback) -> None:
        self._callback = callback
        self._clock.start()

    def stop(self) -> None:
        self._clock.stop()

    def _tick(self, now: float) -> None:
        if self._callback is not None:
            self._callback(self._block, now)
        self.samples_played += len(self._block)
        self.nonzero_samples += int(np.count_nonzero(self._block))
        self._consume(self._block)

    def _consume(self, block: Samples) -> None:
        """Where the block goes; the null output drops it."""


class WavFileOutput(NullOutput):
    """A speaker that records what it plays to a 16-bit mono WAV file."""

    def __init__(
        self, path: Path, sample_rate: int, block_ms: int = 20, *, speed: float = 1.0
    ) -> None:
        super().__init__(sample_rate, block_ms, speed=speed)
        self._path = path
        self._wav: wave.Wave_write | None = None

    @property
    def description(self) -> str:
        return f"WAV output {self._path} @ {self._rate} Hz"

    def start(self, callback: OutputCallback) -> None:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            # Held open from start() to stop(), like a device.
            wav = wave.open(str(self._path), "wb")  # noqa: SIM115
        except OSError as exc:
            raise AudioDeviceError(f"cannot write {self._path}: {exc.strerror}") from exc
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(self._rate)
        self._wav = wav
        super().start(callback)

    def stop(self) -> None:
        super().stop()
        wav, self._wav = self._wav, None
        if wav is not None:
            wav.close()

    def _consume(self, block: Samples) -> None:
        if self._wav is not None:
            self._wav.writeframes(block.astype("<i2").tobytes())
