"""The simulator's energy VAD: events on the audio timeline, whatever the chunking."""

from __future__ import annotations

import pytest

from simulator.config import TurnDetection
from simulator.vad import EnergyVad, SpeechStarted, SpeechStopped, VadEvent
from tests.unit.realtime.server_events import pcm

DEFAULTS = TurnDetection(
    threshold=0.5,
    prefix_padding_ms=300,
    silence_duration_ms=500,
    create_response=True,
    interrupt_response=True,
)


def silence(ms: int) -> bytes:
    return bytes(ms * 48)


def run(audio: bytes, detection: TurnDetection = DEFAULTS, chunk: int = 960) -> list[VadEvent]:
    vad = EnergyVad(detection)
    events: list[VadEvent] = []
    for i in range(0, len(audio), chunk):
        events += vad.feed(audio[i : i + chunk])
    return events


def test_speech_is_reported_from_the_prefix_padding_to_the_end_of_the_silence() -> None:
    audio = silence(500) + pcm(1000) + silence(800)
    assert run(audio) == [SpeechStarted(audio_start_ms=200), SpeechStopped(audio_end_ms=2000)]


@pytest.mark.parametrize("chunk", [2, 333, 480, 4800, 1_000_000])
def test_events_do_not_depend_on_how_the_audio_is_cut(chunk: int) -> None:
    audio = silence(500) + pcm(1000) + silence(800)
    assert run(audio, chunk=chunk) == run(audio)


def test_silence_and_clicks_are_not_speech() -> None:
    assert run(silence(3000)) == []
    assert run(silence(200) + pcm(30) + silence(1000)) == []


def test_a_pause_shorter_than_the_silence_duration_does_not_end_the_turn() -> None:
    audio = pcm(600) + silence(400) + pcm(600) + silence(600)
    assert run(audio) == [SpeechStarted(0), SpeechStopped(2100)]


def test_the_threshold_decides_how_loud_speech_must_be() -> None:
    quiet = silence(100) + pcm(800, level=100) + silence(700)  # about -50 dBFS
    assert run(quiet) == []
    sensitive = TurnDetection(
        threshold=0.2,
        prefix_padding_ms=0,
        silence_duration_ms=200,
        create_response=True,
        interrupt_response=True,
    )
    assert run(quiet, sensitive) == [SpeechStarted(100), SpeechStopped(1100)]


def test_new_settings_apply_to_the_audio_that_follows() -> None:
    vad = EnergyVad(DEFAULTS)
    assert vad.feed(pcm(600) + silence(300)) == [SpeechStarted(0)]
    vad.reconfigure(
        TurnDetection(
            threshold=0.5,
            prefix_padding_ms=0,
            silence_duration_ms=200,
            create_response=True,
            interrupt_response=True,
        )
    )
    assert vad.feed(silence(10)) == [SpeechStopped(910)]
    assert vad.position_ms == 910
