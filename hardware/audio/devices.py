"""What the audio path needs from a device, and the sounddevice (PortAudio) adapters.

An input calls back with each block of mono int16 samples and the time it arrived; an
output calls back with a block to fill. The callbacks are :class:`~hardware.audio.capture.
CapturePath` and :class:`~hardware.audio.playback_buffer.PlaybackBuffer` methods, which only
copy. File-backed devices (:mod:`hardware.audio.files`) honour the same protocols.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from hardware.audio.ring import Samples

InputCallback = Callable[[Samples, float], None]
"""(block of mono samples, ``time.monotonic()`` at arrival) -> None"""
OutputCallback = Callable[[Samples, float], None]
"""(block to fill with mono samples, ``time.monotonic()`` now) -> None"""


class AudioDeviceError(RuntimeError):
    """A device could not be opened or failed; the message says what to do."""


class AudioInput(Protocol):
    @property
    def sample_rate(self) -> int: ...

    @property
    def description(self) -> str: ...

    @property
    def overflows(self) -> int:
        """Blocks the device itself reported as lost (too late a callback)."""
        ...

    def start(self, callback: InputCallback) -> None: ...

    def stop(self) -> None: ...


class AudioOutput(Protocol):
    @property
    def sample_rate(self) -> int: ...

    @property
    def description(self) -> str: ...

    @property
    def underruns(self) -> int:
        """Blocks the device itself reported as starved (too late a callback)."""
        ...

    def start(self, callback: OutputCallback) -> None: ...

    def stop(self) -> None: ...


def _find_device(name: str | None, kind: str) -> int | None:
    """PortAudio's index for the device whose name contains ``name`` (None: the default)."""
    import sounddevice as sd

    if name is None:
        return None
    try:
        info = sd.query_devices(name, kind=kind)
    except ValueError as exc:
        devices = [str(d["name"]) for d in sd.query_devices() if d[f"max_{kind}_channels"] > 0]
        listing = ", ".join(repr(d) for d in devices) or "none (is the sound card plugged in?)"
        raise AudioDeviceError(
            f"no single {kind} device matches {name!r} ({exc}); {kind} devices: {listing}. "
            f"Set the {kind} device to a part of one of these names"
        ) from exc
    return int(info["index"])


def _open_failed(kind: str, name: str | None, rate: int, exc: Exception) -> AudioDeviceError:
    device = repr(name) if name else "the default device"
    return AudioDeviceError(
        f"cannot open {device} for {kind} at {rate} Hz mono: {exc}. Check it with "
        f"`python -m sounddevice`, try another rate (44100, 16000) or the ALSA `plug` device"
    )


class _SoundDeviceStream(ABC):
    """One PortAudio stream, mono int16, in one direction."""

    _kind = ""

    def __init__(
        self, device: str | None, sample_rate: int, block_frames: int, latency: float | None
    ) -> None:
        self._name = device
        self._rate = sample_rate
        self._block = block_frames
        self._latency = latency
        self._stream: Any = None
        self._lost = 0

    @property
    def sample_rate(self) -> int:
        return self._rate

    @property
    def description(self) -> str:
        return f"sounddevice {self._kind} {self._name or 'default'} @ {self._rate} Hz"

    def _open(self, stream_class: Any) -> None:
        import sounddevice as sd

        index = _find_device(self._name, self._kind)
        try:
            self._stream = stream_class(
                device=index,
                samplerate=self._rate,
                blocksize=self._block,
                channels=1,
                dtype="int16",
                latency=self._latency if self._latency is not None else "high",
                callback=self._on_block,
            )
            self._stream.start()
        except sd.PortAudioError as exc:
            raise _open_failed(self._kind, self._name, self._rate, exc) from exc

    @abstractmethod
    def _on_block(self, data: np.ndarray[Any, Any], frames: int, when: Any, status: Any) -> None:
        """The device callback: copy one block in or out, nothing else."""

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
            stream.close()


class SoundDeviceInput(_SoundDeviceStream):
    """A PortAudio input stream delivering mono int16 blocks."""

    _kind = "input"

    def __init__(
        self, device: str | None, sample_rate: int, block_frames: int, latency: float | None
    ) -> None:
        super().__init__(device, sample_rate, block_frames, latency)
        self._callback: InputCallback | None = None

    @property
    def overflows(self) -> int:
        return self._lost

    def start(self, callback: InputCallback) -> None:
        import sounddevice as sd

        self._callback = callback
        self._open(sd.InputStream)

    def _on_block(self, data: np.ndarray[Any, Any], frames: int, when: Any, status: Any) -> None:
        if status.input_overflow:
            self._lost += 1
        callback = self._callback
        if callback is not None:
            callback(data[:, 0], time.monotonic())


class SoundDeviceOutput(_SoundDeviceStream):
    """A PortAudio output stream asking for mono int16 blocks."""

    _kind = "output"

    def __init__(
        self, device: str | None, sample_rate: int, block_frames: int, latency: float | None
    ) -> None:
        super().__init__(device, sample_rate, block_frames, latency)
        self._callback: OutputCallback | None = None

    @property
    def underruns(self) -> int:
        return self._lost

    def start(self, callback: OutputCallback) -> None:
        import sounddevice as sd

        self._callback = callback
        self._open(sd.OutputStream)

    def _on_block(self, data: np.ndarray[Any, Any], frames: int, when: Any, status: Any) -> None:
        if status.output_underflow:
            self._lost += 1
        callback = self._callback
        if callback is None:
            data.fill(0)
        else:
            callback(data[:, 0], time.monotonic())
