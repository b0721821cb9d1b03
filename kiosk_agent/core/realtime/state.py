"""The session's state vocabulary: its phase, the responses the server runs and the tool
calls they make."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Phase(StrEnum):
    CONNECTING = "connecting"
    CONFIGURING = "configuring"
    """Connected, `session.update` sent, waiting for `session.updated`."""
    ACTIVE = "active"
    RECONNECTING = "reconnecting"
    ENDED = "ended"


@dataclass(slots=True)
class Call:
    name: str
    arguments: dict[str, Any]
    response_id: str
    started_at: float
    connection: int
    finished: bool = False


@dataclass(slots=True)
class Response:
    id: str
    created_at: float
    status: str = "in_progress"
    calls: list[str] = field(default_factory=list)
