"""A GA session config shaped like the one the cloud builds for a kiosk, and its member
(shared by tests)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from contract.kiosk_api import MemberCard, MembershipStatus

JULIE = MemberCard(
    badge_id="04A1B2C3D4",
    status=MembershipStatus.ACTIVE,
    member_id=uuid4(),
    first_name="Julie",
    language="fr",
)

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
