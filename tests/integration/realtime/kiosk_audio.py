"""Audio for kiosk conversations on a machine with no sound card.

`MemberAtKiosk` is the kiosk's real playback path (``hardware.audio.AudioIO`` over the null
speaker, paced like a sound card, optionally faster than real time) with a microphone the
test speaks into when it decides to: a member who waits for JARVIS to finish, or who
interrupts. Member speech is espeak-ng's (written to a WAV with ``espeak-ng -w``) when it is
installed, a synthetic voice otherwise.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import subprocess
import tempfile
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import soxr

from hardware.audio import AudioIO
from hardware.audio.files import NullOutput, read_wav
from hardware.settings import AudioBackend, AudioSettings, EchoMode
from simulator.voice import tone_pcm

FRAME_BYTES = 960  # 20 ms at 24 kHz PCM16


def espeak_wav(text: str, language: str, path: Path) -> bool:
    """Speak ``text`` into a WAV file; False when espeak-ng is not installed."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        return False
    voice = {"fr": "fr-fr", "en": "en-us"}.get(language, language)
    subprocess.run([binary, "-v", voice, "-w", str(path), text], check=True, timeout=30)
    return True


@functools.cache
def member_speech(text: str, language: str = "fr") -> bytes:
    """24 kHz PCM16 of a member saying ``text``."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "speech.wav"
        if not espeak_wav(text, language, path):
            return tone_pcm(text)
        samples, rate = read_wav(path)
    resampled = soxr.resample(samples, rate, 24_000).astype("<i2")
    return bytes(resampled.tobytes())


def silence(ms: int) -> bytes:
    return bytes(ms * 48)


def write_wav(path: Path, pcm: bytes, rate: int = 24_000) -> Path:
    import wave

    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return path


@dataclass(frozen=True, slots=True)
class Frame:
    pcm: bytes


class MemberAtKiosk:
    """The real playback path over a null speaker, and a microphone driven by the test."""

    def __init__(self, speed: float = 4.0, device_rate: int = 48_000) -> None:
        self.speed = speed
        settings = AudioSettings(
            backend=AudioBackend.FILE,
            echo_mode=EchoMode.OPEN,
            file_speed=speed,
            device_rate_hz=device_rate,
        )
        self.speaker = NullOutput(device_rate, settings.block_ms, speed=speed)
        self.io = AudioIO(settings, None, self.speaker)
        self._mic: deque[bytes] = deque()
        self._spoken = asyncio.Event()
        self._spoken.set()

    async def __aenter__(self) -> MemberAtKiosk:
        await self.io.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.io.stop()

    # -- the microphone
    def say(self, pcm: bytes, then_silence_ms: int = 0) -> None:
        pcm += silence(then_silence_ms)
        for i in range(0, len(pcm), FRAME_BYTES):
            self._mic.append(pcm[i : i + FRAME_BYTES].ljust(FRAME_BYTES, b"\0"))
        self._spoken.clear()

    async def finished_speaking(self) -> None:
        await self._spoken.wait()

    async def frames(self) -> AsyncIterator[Frame]:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            if self._mic:
                pcm = self._mic.popleft()
            else:
                self._spoken.set()
                pcm = bytes(FRAME_BYTES)
            yield Frame(pcm)
            due += 0.02 / self.speed
            await asyncio.sleep(max(0.0, due - loop.time()))

    # -- the speaker (the kiosk's real playback path)
    def play(self, item_id: str, pcm: bytes) -> bool:
        return self.io.play(item_id, pcm)

    def finish_item(self, item_id: str) -> None:
        self.io.finish_item(item_id)

    async def flush(self) -> None:
        await self.io.flush()

    def played_ms(self, item_id: str) -> int:
        return self.io.played_ms(item_id)

    @property
    def playing(self) -> bool:
        return self.io.playing

    async def quiet(self) -> None:
        """Until the kiosk has played everything it was given."""
        await until(lambda: not self.io.playing)


async def until(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    """Yield to the event loop until ``condition`` holds (outcomes are asserted, not timings)."""
    for _ in range(int(seconds / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition never held")
