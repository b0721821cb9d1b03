"""The GA Realtime `session` object a kiosk sends in `session.update` (pure).

Audio is 24 kHz mono PCM16 both ways; turn detection is server VAD tuned for a gym (a higher
threshold than OpenAI's 0.5 default, a slightly longer silence), with far-field noise
reduction for a kiosk microphone a metre or two from the speaker.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from cloud_api.config import CloudSettings
from cloud_api.tools.registry import realtime_tools

OPENAI_BASE_URL = "https://api.openai.com/v1"
PCM_24K = {"type": "audio/pcm", "rate": 24000}


def session_payload(
    *, instructions: str, voice: str, language: str, settings: CloudSettings
) -> dict[str, Any]:
    """The `session` object of `session.update` (without `model`, fixed at connection)."""
    return {
        "type": "realtime",
        "output_modalities": ["audio"],
        "instructions": instructions,
        "tools": realtime_tools(),
        "tool_choice": "auto",
        "audio": {
            "input": {
                "format": dict(PCM_24K),
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": settings.voice_vad_threshold,
                    "prefix_padding_ms": settings.voice_vad_prefix_padding_ms,
                    "silence_duration_ms": settings.voice_vad_silence_duration_ms,
                    "create_response": True,
                    "interrupt_response": True,
                },
                "transcription": {
                    "model": settings.voice_transcription_model,
                    "language": language,
                },
                "noise_reduction": {"type": "far_field"},
            },
            "output": {"format": dict(PCM_24K), "voice": voice},
        },
    }


STANDBY_INSTRUCTIONS = (
    "You are JARVIS, the voice assistant of a gym's entrance kiosk. Nobody is here yet: say "
    "nothing until you are given a member and asked to greet them."
)


def standby_payload(*, voice: str) -> dict[str, Any]:
    """The session of a warm connection, before anyone taps: the kiosk's voice and audio
    formats, no member, no tools, no turn detection (no microphone audio is sent yet). The
    member's `session_payload` replaces it at the tap, with a `session.update`."""
    return {
        "type": "realtime",
        "output_modalities": ["audio"],
        "instructions": STANDBY_INSTRUCTIONS,
        "tools": [],
        "audio": {
            "input": {"format": dict(PCM_24K), "turn_detection": None},
            "output": {"format": dict(PCM_24K), "voice": voice},
        },
    }


def realtime_url(base_url: str | None, model: str) -> str:
    """The WebSocket URL for a model under an OpenAI-compatible base URL
    (`https://api.openai.com/v1` → `wss://api.openai.com/v1/realtime?model=...`)."""
    parts = urlsplit((base_url or OPENAI_BASE_URL).rstrip("/"))
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    return urlunsplit(
        (scheme, parts.netloc, parts.path + "/realtime", urlencode({"model": model}), "")
    )
