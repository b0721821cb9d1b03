"""How a kiosk conversation is bounded, and the goodbyes that end it."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

GOODBYES = (
    "au revoir",
    "a bientot",
    "a plus tard",
    "bonne soiree",
    "goodbye",
    "bye",
    "see you",
)


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """How a kiosk conversation is bounded (seconds unless said otherwise)."""

    idle_timeout_s: float = 20.0
    """End when nobody has spoken or played anything for this long."""
    max_session_s: float = 300.0
    greet_first: bool = True
    """Ask for a response as soon as the session is configured: JARVIS greets the member."""
    max_reconnects: int = 3
    """Connection losses in a row before the session ends with `network_error`."""
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0
    goodbyes: tuple[str, ...] = GOODBYES
    """Phrases (lowercase, without accents) that end the session after JARVIS answers."""


def said_goodbye(transcript: str, goodbyes: tuple[str, ...]) -> bool:
    """Whether the member's words hold one of ``goodbyes`` (whole words; case and accents
    do not matter)."""
    plain = _plain(transcript)
    return any(re.search(rf"\b{re.escape(g)}\b", plain) for g in goodbyes)


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
