"""The GA session object and the WebSocket URL, checked against the simulator's validator."""

from __future__ import annotations

from cloud_api.config import CloudSettings
from cloud_api.tools.registry import realtime_tools
from cloud_api.voice.client_secret import scrub
from cloud_api.voice.session_config import realtime_url, session_payload
from simulator.config import check_session


def settings(**values: object) -> CloudSettings:
    return CloudSettings(_env_file=None, **values)  # type: ignore[arg-type]


def test_payload_is_a_valid_ga_session() -> None:
    payload = session_payload(
        instructions="Tu es JARVIS.",
        voice="marin",
        language="fr",
        settings=settings(voice_vad_threshold=0.7, voice_vad_silence_duration_ms=800),
    )
    assert check_session(payload) is None
    assert check_session({**payload, "model": "gpt-realtime-mini"}) is None
    assert payload["tools"] == realtime_tools()
    audio = payload["audio"]
    assert audio["input"]["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.7,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 800,
        "create_response": True,
        "interrupt_response": True,
    }
    assert audio["input"]["transcription"] == {"model": "gpt-4o-mini-transcribe", "language": "fr"}
    assert audio["input"]["noise_reduction"] == {"type": "far_field"}
    assert audio["output"]["voice"] == "marin"
    assert "model" not in payload  # fixed when connecting, not in session.update


def test_realtime_url_from_the_base_url() -> None:
    assert realtime_url(None, "gpt-realtime-mini") == (
        "wss://api.openai.com/v1/realtime?model=gpt-realtime-mini"
    )
    assert realtime_url("http://127.0.0.1:8100/v1/", "gpt-realtime") == (
        "ws://127.0.0.1:8100/v1/realtime?model=gpt-realtime"
    )
    assert realtime_url("https://proxy.example.com/openai/v1", "a b") == (
        "wss://proxy.example.com/openai/v1/realtime?model=a+b"
    )


def test_the_key_is_scrubbed_from_error_text() -> None:
    key = "sk-live-0123456789"
    assert scrub(f"Incorrect API key provided: {key}.", key) == (
        "Incorrect API key provided: [redacted]."
    )
    assert scrub("nothing to hide", "") == "nothing to hide"
