"""What the kiosk relies on in the server's side of the protocol: the audio format, which
error codes end the session and which are harmless races, strict reading of event fields,
and keys scrubbed from any text the server sends back."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

BYTES_PER_MS = 48  # 24 kHz, 16-bit mono
FATAL_CODES = frozenset(
    {
        "invalid_api_key",
        "insufficient_quota",
        "account_deactivated",
        "billing_hard_limit_reached",
        "session_expired",
        "model_not_found",
    }
)
"""Errors no retry can fix: the session ends with `realtime_error` and never reconnects."""
BENIGN_CODES = frozenset({"response_cancel_not_active", "conversation_already_has_active_response"})
"""Races between the kiosk and the server: counted, not reported as session errors."""
_SECRET_LIKE = re.compile(r"\b(sk|ek|rk)[-_][A-Za-z0-9_*-]{4,}")


def redact(text: str) -> str:
    """Keys never reach a log or a session record, even when an error message quotes one."""
    return _SECRET_LIKE.sub(lambda m: m.group(0)[:3] + "***", text)


class ProtocolViolation(ValueError):
    """A server event that cannot be understood (the peer misbehaved)."""


def text_field(event: Mapping[str, Any], key: str) -> str:
    value = event.get(key)
    if not isinstance(value, str):
        raise ProtocolViolation(f"{key!r} should be a string")
    return value


def int_field(event: Mapping[str, Any], key: str) -> int:
    value = event.get(key)
    if not isinstance(value, int):
        raise ProtocolViolation(f"{key!r} should be an integer")
    return value
