"""The simulated model's voice: text in, 24 kHz mono PCM16 out.

espeak-ng speaks the text when it is on PATH (a real voice: VAD, echo and barge-in tests
hear speech-like audio); otherwise a tone sequence stands in, about as long as speech of the
same text. Both are deterministic. Everything is rendered once, when the server starts,
so no subprocess ever runs while a session is streaming.
"""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import sys
import wave
from array import array
from collections.abc import Iterable
from enum import StrEnum

RATE = 24_000
"""The Realtime API's only PCM rate."""
BYTES_PER_MS = RATE * 2 // 1000
_ESPEAK_VOICES = {"fr": "fr-fr", "en": "en-us"}
_TONE_MS_PER_CHAR = 65  # about 15 characters per second, like unhurried speech
_RENDERED: dict[tuple[str, str, str], bytes] = {}
"""Renderings shared by every Voice in the process (servers started again reuse them)."""


class VoiceKind(StrEnum):
    AUTO = "auto"
    ESPEAK = "espeak"
    TONE = "tone"


class VoiceUnavailable(RuntimeError):
    """espeak-ng was asked for and is not installed (or failed)."""


def resample_linear(samples: array[int], from_rate: int, to_rate: int) -> array[int]:
    """Linear-interpolation resampling (good enough for a simulated voice; no numpy needed)."""
    if from_rate == to_rate or not samples:
        return array("h", samples)
    count = len(samples) * to_rate // from_rate
    out = array("h", bytes(2 * count))
    step = from_rate / to_rate
    last = len(samples) - 1
    for i in range(count):
        position = i * step
        j = int(position)
        frac = position - j
        a = samples[j]
        b = samples[j + 1] if j < last else a
        out[i] = int(a + (b - a) * frac)
    return out


def pcm_bytes(samples: array[int]) -> bytes:
    """Little-endian PCM16 bytes of int16 samples, whatever the machine's byte order."""
    if sys.byteorder != "little":
        samples = array("h", samples)
        samples.byteswap()
    return samples.tobytes()


def espeak_pcm(text: str, language: str) -> bytes:
    """Speak ``text`` with espeak-ng at 24 kHz."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise VoiceUnavailable("espeak-ng is not installed: install it or use the tone voice")
    voice = _ESPEAK_VOICES.get(language, language)
    try:
        result = subprocess.run(  # noqa: S603 - fixed binary, text passed as one argument
            [binary, "-v", voice, "-s", "165", "--stdout", text],
            capture_output=True,
            check=True,
            timeout=30,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        raise VoiceUnavailable(f"espeak-ng failed to speak {text[:40]!r}: {exc}") from exc
    with wave.open(io.BytesIO(result.stdout)) as wav:
        rate = wav.getframerate()
        raw = wav.readframes(wav.getnframes())
    samples = array("h")
    samples.frombytes(raw[: len(raw) // 2 * 2])
    if sys.byteorder != "little":
        samples.byteswap()
    return pcm_bytes(resample_linear(samples, rate, RATE))


def tone_pcm(text: str) -> bytes:
    """A syllable-like tone sequence as long as ``text`` would take to say."""
    duration_ms = max(300, _TONE_MS_PER_CHAR * len(text))
    samples = array("h", bytes(duration_ms * BYTES_PER_MS))
    syllable = RATE * 150 // 1000
    for i in range(len(samples)):
        n = i // syllable
        # Each "syllable" has its own pitch (from the text, so the same text sounds the
        # same) and a raised-cosine envelope, so it reads as speech to an energy VAD.
        pitch = 140 + (ord(text[n % len(text)]) % 12) * 15
        envelope = 0.5 - 0.5 * math.cos(2 * math.pi * (i % syllable) / syllable)
        samples[i] = int(8000 * envelope * math.sin(2 * math.pi * pitch * i / RATE))
    return pcm_bytes(samples)


class Voice:
    """Renders and keeps the PCM of every text the script can say."""

    def __init__(self, kind: VoiceKind = VoiceKind.AUTO, language: str = "fr") -> None:
        if kind is VoiceKind.AUTO:
            kind = VoiceKind.ESPEAK if shutil.which("espeak-ng") else VoiceKind.TONE
        self.kind = kind
        self.language = language

    def prepare(self, texts: Iterable[str]) -> None:
        for text in texts:
            self.pcm(text)

    def pcm(self, text: str) -> bytes:
        key = (self.kind.value, self.language, text)
        cached = _RENDERED.get(key)
        if cached is None:
            if self.kind is VoiceKind.ESPEAK:
                cached = espeak_pcm(text, self.language)
            else:
                cached = tone_pcm(text)
            _RENDERED[key] = cached
        return cached
