"""What the session asks the adapter to do: the :data:`Action` values.

Send an event, play or flush audio, run a tool, reconnect after a delay, end the session.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from contract.kiosk_api import EndReason


@dataclass(frozen=True, slots=True)
class SendEvent:
    """Send this client event (JSON text) on the socket."""

    type: str
    data: str


@dataclass(frozen=True, slots=True)
class PlayAudio:
    item_id: str
    pcm: bytes
    """24 kHz mono PCM16, little-endian."""


@dataclass(frozen=True, slots=True)
class FinishAudio:
    """No more audio will come for this item: let playback drain it."""

    item_id: str


@dataclass(frozen=True, slots=True)
class FlushPlayback:
    """Silence the speaker now, then call :meth:`RealtimeSession.playback_flushed` with the
    milliseconds of ``item_id`` that were played."""

    item_id: str


@dataclass(frozen=True, slots=True)
class RunTool:
    """Run a JARVIS tool (through the cloud), then call :meth:`RealtimeSession.tool_finished`."""

    call_id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reconnect:
    """Open a new connection after ``delay_s``, then call :meth:`RealtimeSession.connected`."""

    delay_s: float
    attempt: int


@dataclass(frozen=True, slots=True)
class Caption:
    """A line of the conversation for a screen: growing as it is said (``final`` False),
    then finished."""

    role: str
    text: str
    item_id: str
    final: bool = True


@dataclass(frozen=True, slots=True)
class SessionEnded:
    reason: EndReason
    detail: str = ""


Action = (
    SendEvent
    | PlayAudio
    | FinishAudio
    | FlushPlayback
    | RunTool
    | Reconnect
    | Caption
    | (SessionEnded)
)


def send(event: dict[str, Any]) -> SendEvent:
    """The action that sends this client event."""
    return SendEvent(str(event["type"]), json.dumps(event, ensure_ascii=False))
