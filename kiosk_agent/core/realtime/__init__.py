"""The kiosk's OpenAI Realtime session, sans-I/O (GA protocol).

:class:`RealtimeSession` is fed what happens — server events, microphone frames, playback
progress, tool results, connection loss, the passing of time — and answers with
:data:`Action` values for the adapter to carry out: send an event, play or flush audio, run
a tool, reconnect after a delay, end the session. It never awaits, sleeps, reads a clock or
touches a socket, so tests drive it with recorded event sequences and plain numbers.

Along the way it keeps the session's facts (:class:`RealtimeFacts`): the turns as the member
heard them, tool calls, token usage summed by kind over every `response.done` (cancelled
responses are billed too), latency per turn, errors and how the session ended.

Barge-in (FIELD_NOTES): on `input_audio_buffer.speech_started` the kiosk flushes playback at
once (:class:`FlushPlayback`); the adapter answers with the milliseconds of that item it had
actually played (:meth:`RealtimeSession.playback_flushed`), and the session sends
`conversation.item.truncate` at ``min(played, received)`` — or nothing when nothing was
played, or everything was. The server cancels its own response (`interrupt_response`), so
no `response.cancel` is sent.

Modules: ``session`` (the session and its inputs), ``server_events`` (what each server event
does to it), ``actions`` (what it asks the adapter to do), ``facts`` and ``latency`` (the
session's facts), ``transcript`` (the conversation as heard), ``barge_in`` (playback and
truncation), ``limits`` (bounds and goodbyes), ``protocol`` (error codes, field checks,
redaction), ``state`` (phase, responses, tool calls).
"""

from kiosk_agent.core.realtime.actions import (
    Action,
    Caption,
    FinishAudio,
    FlushPlayback,
    PlayAudio,
    Reconnect,
    RunTool,
    SendEvent,
    SessionEnded,
)
from kiosk_agent.core.realtime.facts import RealtimeFacts
from kiosk_agent.core.realtime.latency import TurnLatency
from kiosk_agent.core.realtime.limits import SessionLimits
from kiosk_agent.core.realtime.session import RealtimeSession
from kiosk_agent.core.realtime.state import Phase

__all__ = [
    "Action",
    "Caption",
    "FinishAudio",
    "FlushPlayback",
    "Phase",
    "PlayAudio",
    "RealtimeFacts",
    "RealtimeSession",
    "Reconnect",
    "RunTool",
    "SendEvent",
    "SessionEnded",
    "SessionLimits",
    "TurnLatency",
]
