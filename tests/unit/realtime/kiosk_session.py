"""A GA session config shaped like the one the cloud builds for a kiosk (shared by tests)."""

from __future__ import annotations

from typing import Any

KIOSK_SESSION: dict[str, Any] = {
    "type": "realtime",
    "instructions": "Tu es JARVIS, l'assistant de la salle. Salue Julie par son prénom.",
    "tools": [
        {
            "type": "function",
            "name": "get_member_schedule",
            "parameters": {"type": "object", "properties": {"period": {"type": "string"}}},
        }
    ],
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
            "transcription": {"model": "gpt-4o-mini-transcribe", "language": "fr"},
            "noise_reduction": {"type": "far_field"},
        },
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"},
    },
}
