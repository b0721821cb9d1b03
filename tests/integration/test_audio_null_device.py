"""The audio path against real devices: PortAudio on an ALSA null device, and WAV files.

There is no sound card here. ALSA's ``null`` plugin is a real ALSA device that accepts and
returns silence; pointing ``ALSA_CONFIG_PATH`` at a config that makes it the default gives
PortAudio a device to open. PortAudio reads the ALSA configuration when ``sounddevice`` is
imported, so the check runs in a fresh interpreter (this file run as a script) started with
that variable set, and reports what it saw as JSON.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soxr

ROOT = Path(__file__).resolve().parents[2]
ALSA_NULL_CONFIG = """\
pcm.!default {
    type null
}
ctl.!default {
    type hw
    card 0
}
"""


def answer_pcm(ms: int) -> bytes:
    """24 kHz audio that is never zero, so played samples can be told from silence."""
    t = np.arange(24 * ms) / 24_000
    return (4000 + 2000 * np.sin(2 * np.pi * 330 * t)).astype("<i2").tobytes()


async def until(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    """Yield to the event loop until ``condition`` holds (outcomes are asserted, not timings)."""
    for _ in range(int(seconds / 0.002)):
        if condition():
            return
        await asyncio.sleep(0.002)
    raise AssertionError("condition never held")


async def probe_null_device() -> dict[str, Any]:
    """Run in the child: open the sounddevice adapters for real and exercise AudioIO."""
    import sounddevice as sd

    from hardware.audio import open_audio
    from hardware.settings import AudioSettings, EchoMode

    devices = [str(d["name"]) for d in sd.query_devices()]
    settings = AudioSettings(echo_mode=EchoMode.OPEN, playback_prebuffer_ms=0)
    async with open_audio(settings) as audio:
        frames = []
        async with asyncio.timeout(20):
            async for frame in audio.frames():
                frames.append(frame)
                if len(frames) == 25:
                    break
        audio.play("short", answer_pcm(200))
        audio.finish_item("short")
        await until(lambda: audio.played_ms("short") >= 200)
        audio.play("long", answer_pcm(60_000))
        await until(lambda: audio.played_ms("long") > 0)
        started = time.monotonic()
        await audio.flush()
        flush_s = time.monotonic() - started
        played_long = audio.played_ms("long")
        stats = audio.stats()
    return {
        "devices": devices,
        "frame_sizes": sorted({len(f.pcm) for f in frames}),
        "frame_indices_increase": all(b.index > a.index for a, b in itertools.pairwise(frames)),
        "played_short_ms": audio.played_ms("short"),
        "played_long_ms": played_long,
        "queued_after_flush_ms": stats.playback_queued_ms,
        "flush_s": flush_s,
    }


@pytest.fixture
def alsa_null_env(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "asound.conf"
    config.write_text(ALSA_NULL_CONFIG)
    return {
        **os.environ,
        "ALSA_CONFIG_PATH": str(config),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }


def test_sounddevice_adapter_streams_and_plays_through_alsa_null(
    alsa_null_env: dict[str, str],
) -> None:
    child = subprocess.run(
        [sys.executable, __file__, "--probe-null-device"],
        env=alsa_null_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    report = json.loads(child.stdout.strip().splitlines()[-1])
    assert report["devices"]  # PortAudio found the null device
    # One frame per block; the burst the null device delivers at start (it runs ahead of
    # real time) leaves in pieces of 80 ms at most.
    assert max(report["frame_sizes"]) <= 3840
    assert report["frame_indices_increase"]
    assert report["played_short_ms"] == 200
    assert 0 < report["played_long_ms"] < 60_000  # cut by the flush, not played out
    assert report["queued_after_flush_ms"] == 0


@pytest.fixture
def spoken(tmp_path: Path) -> Path:
    """A French phrase spoken by espeak-ng to a 22050 Hz WAV, the kiosk's test microphone."""
    # scripts/bootstrap.sh installs espeak-ng: missing, it is a setup error, not a reason to skip.
    assert shutil.which("espeak-ng"), "espeak-ng is missing: run scripts/bootstrap.sh"
    path = tmp_path / "bonjour.wav"
    subprocess.run(
        ["espeak-ng", "-v", "fr", "-w", str(path), "bonjour, je suis Jarvis"], check=True
    )
    return path


async def test_espeak_wav_through_the_file_backed_path(tmp_path: Path, spoken: Path) -> None:
    from hardware.audio import open_audio
    from hardware.audio.files import read_wav
    from hardware.settings import AudioBackend, AudioSettings, EchoMode

    voice, voice_rate = read_wav(spoken)
    recording = tmp_path / "speaker.wav"
    settings = AudioSettings(
        backend=AudioBackend.FILE,
        input_wav=spoken,
        output_wav=recording,
        file_speed=4.0,
        echo_mode=EchoMode.OPEN,
    )
    expected_samples = len(voice) * 24_000 // voice_rate - 480
    answer = soxr.resample(voice, voice_rate, 24_000).astype("<i2").tobytes()
    async with open_audio(settings) as audio:
        frames = []
        async with asyncio.timeout(30):
            async for frame in audio.frames():
                frames.append(frame)
                if sum(len(f.pcm) for f in frames) // 2 >= expected_samples:
                    break
        level = audio.level()
        audio.play("reply", answer)
        audio.finish_item("reply")
        answer_ms = len(answer) // 48
        await until(lambda: audio.played_ms("reply") >= answer_ms, seconds=30)
    # The microphone side: the spoken phrase, converted from espeak's 22050 Hz to 24 kHz.
    sent = np.frombuffer(b"".join(f.pcm for f in frames), dtype="<i2")
    reference = soxr.resample(voice, voice_rate, 24_000, quality="LQ")[: len(sent)]
    assert np.abs(sent.astype(np.int32) - reference.astype(np.int32)).max() <= 2
    assert level.rms_dbfs > -40  # speech, not silence
    # The speaker side: the answer recorded at 48 kHz, sample for sample.
    played, rate = read_wav(recording)
    assert rate == 48_000
    start = int(np.flatnonzero(played)[0])
    heard = played[start:]
    upsampled = soxr.resample(np.frombuffer(answer, dtype="<i2"), 24_000, 48_000, quality="HQ")
    first_sound = int(np.flatnonzero(upsampled)[0])
    aligned = upsampled[first_sound : first_sound + len(heard)]
    assert np.abs(heard[: len(aligned)].astype(np.int32) - aligned.astype(np.int32)).max() <= 2


if __name__ == "__main__" and sys.argv[1:] == ["--probe-null-device"]:
    print(json.dumps(asyncio.run(probe_null_device())))
