"""AudioIO as the kiosk agent uses it, over file-backed and hand-driven devices."""

from __future__ import annotations

import asyncio
import tracemalloc
import wave
from pathlib import Path

import numpy as np
import pytest
import soxr
from eventually import until

from hardware.audio import AudioDeviceError, AudioIO, CapturedFrame, open_audio
from hardware.audio.devices import InputCallback, OutputCallback, SoundDeviceInput
from hardware.audio.files import NullOutput, WavFileInput, read_wav
from hardware.audio.ring import Samples
from hardware.settings import AudioBackend, AudioSettings, EchoMode

RATE = 48_000
BLOCK = 960


def write_wav(path: Path, samples: Samples, rate: int, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.astype("<i2").tobytes())
    return path


def answer_pcm(ms: int) -> bytes:
    """24 kHz speech stand-in that is never zero, so played samples can be counted."""
    t = np.arange(24 * ms) / 24_000
    return (5000 + 3000 * np.sin(2 * np.pi * 220 * t)).astype("<i2").tobytes()


def file_settings(tmp_path: Path, **overrides: object) -> AudioSettings:
    tone = (8000 * np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE)).astype(np.int16)
    values: dict[str, object] = {
        "backend": AudioBackend.FILE,
        "input_wav": write_wav(tmp_path / "mic.wav", tone, RATE),
        "file_speed": 4.0,
        "echo_mode": EchoMode.OPEN,
        **overrides,
    }
    return AudioSettings.model_validate(values)


async def collect(audio: AudioIO, count: int) -> list[CapturedFrame]:
    frames = []
    async with asyncio.timeout(30):
        async for frame in audio.frames():
            frames.append(frame)
            if len(frames) == count:
                break
    return frames


async def test_wav_in_frames_out_and_playback_recorded_to_wav(tmp_path: Path) -> None:
    recording = tmp_path / "speaker.wav"
    async with open_audio(file_settings(tmp_path, output_wav=recording)) as audio:
        frames = await collect(audio, 25)
        pcm = answer_pcm(300)
        assert audio.play("item_1", pcm)
        audio.finish_item("item_1")
        await until(lambda: audio.played_ms("item_1") == 300)
        stats = audio.stats()
    assert [len(f.pcm) for f in frames] == [960] * 25
    assert any(f.pcm != bytes(960) for f in frames)
    # No assertion on stats.input_overflows / output_underruns here: with file devices they
    # count clock ticks the OS scheduled more than a block late, which says how busy the
    # machine is, not how the audio path behaves (tests/unit/hardware/test_audio_capture.py and
    # test_audio_playback.py drive those counters deterministically).
    assert stats.frames_captured >= 25
    played, rate = read_wav(recording)
    assert rate == RATE
    start = int(np.flatnonzero(played)[0])
    heard = played[start : start + 14_400]
    expected = soxr.resample(np.frombuffer(pcm, dtype="<i2"), 24_000, RATE, quality="HQ")
    assert len(expected) == 14_400
    assert np.abs(heard.astype(np.int32) - expected.astype(np.int32)).max() <= 2
    assert not played[start + 14_400 :].any()


async def test_flush_silences_the_speaker_within_one_block(tmp_path: Path) -> None:
    settings = file_settings(tmp_path, playback_prebuffer_ms=0)
    speaker = NullOutput(RATE, speed=4.0)
    async with AudioIO(settings, None, speaker) as audio:
        audio.play("long_answer", answer_pcm(2000))
        await until(lambda: audio.played_ms("long_answer") >= 200)
        await audio.flush()
        heard_at_flush = speaker.nonzero_samples
        played_at_flush = audio.played_ms("long_answer")
        blocks_at_flush = speaker.samples_played
        await until(lambda: speaker.samples_played >= blocks_at_flush + 5 * BLOCK)
        assert speaker.nonzero_samples == heard_at_flush
        assert audio.played_ms("long_answer") == played_at_flush < 2000
        # The accounting is what the device was given, to the sample.
        assert audio.playback is not None
        assert audio.playback.buffer.played_samples("long_answer") == heard_at_flush
        assert not audio.play("long_answer", answer_pcm(100))  # late deltas are dropped
        assert not audio.playing


async def test_echo_gate_mutes_the_microphone_while_the_kiosk_speaks(tmp_path: Path) -> None:
    settings = file_settings(
        tmp_path, echo_mode=EchoMode.GATE, echo_tail_ms=100, file_loop=True, file_speed=2.0
    )
    async with open_audio(settings) as audio:
        audio.play("greeting", answer_pcm(400))
        audio.finish_item("greeting")
        frames = await collect(audio, 60)
        assert audio.stats().frames_muted > 0
    muted = [f.muted for f in frames]
    assert True in muted
    assert muted[-1] is False  # 1.2 s of stream later, the tail is over
    first_unmuted_after = muted.index(True) + muted[muted.index(True) :].index(False)
    assert not any(muted[first_unmuted_after:])
    assert all(f.pcm == bytes(960) for f in frames if f.muted)


class ManualInput:
    """A microphone the test calls back by hand."""

    sample_rate = RATE
    description = "manual microphone"
    overflows = 0

    def __init__(self) -> None:
        self.callback: InputCallback | None = None

    def start(self, callback: InputCallback) -> None:
        self.callback = callback

    def stop(self) -> None:
        self.callback = None


class ManualOutput:
    sample_rate = RATE
    description = "manual speaker"
    underruns = 0

    def __init__(self) -> None:
        self.callback: OutputCallback | None = None

    def start(self, callback: OutputCallback) -> None:
        self.callback = callback

    def stop(self) -> None:
        self.callback = None


async def test_flush_returns_once_the_device_has_played_silence() -> None:
    mic, speaker = ManualInput(), ManualOutput()
    settings = AudioSettings(playback_prebuffer_ms=0)
    async with AudioIO(settings, mic, speaker) as audio:
        assert speaker.callback is not None
        audio.play("answer", answer_pcm(500))
        block = np.zeros(BLOCK, dtype=np.int16)
        speaker.callback(block, 1.0)
        assert block.all()
        flushing = asyncio.create_task(audio.flush())
        await asyncio.sleep(0)
        assert not flushing.done()  # waits for the device, not for a timer
        speaker.callback(block, 1.02)
        await asyncio.wait_for(flushing, 5)
        assert not block.any()
        assert audio.played_ms("answer") == 20


def test_device_callbacks_allocate_no_sample_buffers() -> None:
    """The callbacks only copy: no array as large as a block is created while they run."""
    mic, speaker = ManualInput(), ManualOutput()

    async def run() -> int:
        async with AudioIO(AudioSettings(playback_prebuffer_ms=0), mic, speaker) as audio:
            assert mic.callback is not None
            assert speaker.callback is not None
            audio.play("answer", answer_pcm(1000))
            block_in = np.ones(BLOCK, dtype=np.int16)
            block_out = np.zeros(BLOCK, dtype=np.int16)
            mic.callback(block_in, 0.0)  # first calls may warm caches
            speaker.callback(block_out, 0.0)
            tracemalloc.start()
            try:
                baseline = tracemalloc.get_traced_memory()[0]
                tracemalloc.reset_peak()
                for i in range(40):
                    mic.callback(block_in, i * 0.02)
                    speaker.callback(block_out, i * 0.02)
                peak = tracemalloc.get_traced_memory()[1] - baseline
            finally:
                tracemalloc.stop()
            assert block_out.all()
            return peak

    peak = asyncio.run(run())
    assert peak < BLOCK * 2  # one int16 block; a copy or a resample would exceed it


def test_the_allocation_check_sees_an_allocating_callback() -> None:
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        block = np.ones(BLOCK, dtype=np.int16)
        np.interp(np.arange(0, BLOCK, 2), np.arange(BLOCK), block)  # what a naive path does
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    assert peak >= BLOCK * 2


def test_missing_sound_device_lists_what_exists() -> None:
    mic = SoundDeviceInput("USB PnP Sound Device", RATE, BLOCK, None)
    with pytest.raises(AudioDeviceError, match="no single input device matches 'USB PnP"):
        mic.start(lambda block, now: None)


def test_file_backend_needs_an_input_file() -> None:
    with pytest.raises(AudioDeviceError, match="needs an input WAV"):
        open_audio(AudioSettings(backend=AudioBackend.FILE))
    speaker_only = open_audio(AudioSettings(backend=AudioBackend.FILE), microphone=False)
    assert speaker_only.capture is None


def test_wav_files_are_read_as_mono_16_bit(tmp_path: Path) -> None:
    stereo = np.array([[100, 300], [-100, -300]], dtype=np.int16).reshape(-1)
    samples, rate = read_wav(write_wav(tmp_path / "stereo.wav", stereo, 22_050, channels=2))
    assert (samples.tolist(), rate) == ([200, -200], 22_050)
    with wave.open(str(tmp_path / "8bit.wav"), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(1)
        wav.setframerate(8000)
        wav.writeframes(bytes(100))
    with pytest.raises(AudioDeviceError, match=r"8-bit samples.*sox"):
        read_wav(tmp_path / "8bit.wav")
    with pytest.raises(AudioDeviceError, match="no WAV file"):
        WavFileInput(tmp_path / "missing.wav")
    (tmp_path / "noise.wav").write_bytes(b"not a wav at all")
    with pytest.raises(AudioDeviceError, match="not a PCM WAV"):
        read_wav(tmp_path / "noise.wav")
