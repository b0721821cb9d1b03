"""bench.realtime_turn's kiosk overhead per turn: which server events count toward a turn."""

from __future__ import annotations

from bench.realtime_turn import EventTimer


def test_a_turn_runs_from_speech_stopped_and_its_latency_share_ends_with_the_first_audio() -> None:
    timer = EventTimer()
    timer.events = [
        ("response.output_audio.delta", 9.0, 9.0),  # the greeting: no member turn yet
        ("input_audio_buffer.speech_stopped", 0.5, 0.25),
        ("input_audio_buffer.committed", 0.25, 0.25),
        ("response.created", 0.25, 0.25),
        ("response.output_audio.delta", 1.0, 0.5),
        ("response.output_audio.delta", 2.0, 0.5),
        ("response.done", 0.5, 0.25),
        ("input_audio_buffer.speech_stopped", 0.5, 0.5),  # a turn that got no audio: left out
        ("response.done", 0.5, 0.5),
    ]
    assert timer.per_turn() == [
        {
            "to_first_audio_ms": 2.0,
            "to_first_audio_cpu_ms": 1.25,
            "whole_ms": 4.5,
            "whole_cpu_ms": 2.0,
            "events": 6,
            "audio": 2,
        }
    ]
