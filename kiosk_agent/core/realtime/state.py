"""The session's state vocabulary: its phase, the responses the server runs, the tool calls
they make, and the answer the member is waiting for."""

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
    seq: int = 0
    """Order of creation in the session (1, 2, ...); 0 when the server never announced it."""
    status: str = "in_progress"
    calls: list[str] = field(default_factory=list)
    called: bool = False
    """It called at least one tool (``calls`` is emptied once the round continues)."""
    spoke_all: bool = False
    """All the audio (or text) of one of its messages arrived."""

    @property
    def answers(self) -> bool:
        """It gives the member an answer, not only tool calls."""
        return not self.called and (self.spoke_all or self.status == "completed")


@dataclass(slots=True)
class Owed:
    """The answer the member is waiting for: to their words, or JARVIS's greeting.

    The reconnect rule (docs/REALTIME.md): after any reconnect the kiosk knows whether the
    member's last utterance was answered; when it was not, it asks for the answer, once per
    connection.
    """

    user_item: str | None
    """The member's utterance (its conversation item), or None for the greeting."""
    after: int
    """Only a response created after this one (by ``Response.seq``) answers it."""
    asked_on: int = 0
    """The connection on which the kiosk last asked for it (0: never)."""
