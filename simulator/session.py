"""One simulated Realtime session, sans-I/O: client events in, GA server events out.

The server loop feeds every client message to :meth:`SimulatedSession.receive` and sends
what :meth:`SimulatedSession.poll` returns, calling it again no later than
:meth:`SimulatedSession.next_due` (responses are released over time). When :attr:`close`
is set, it sends what is left and closes the socket with that code. Nothing here awaits,
sleeps or reads a clock: time is an argument, so tests drive it directly.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from simulator.config import (
    TurnDetection,
    check_session,
    merge_session,
    transcribes_input,
)
from simulator.conversation import (
    USER_AUDIO_MS_PER_TOKEN,
    Conversation,
    Ids,
    Item,
    audio_tokens,
    text_tokens,
)
from simulator.errors import Refused, redact
from simulator.model import ScriptedModel, ScriptProgress
from simulator.responses import (
    Pacing,
    ResponseStream,
)
from simulator.script import Fault
from simulator.vad import EnergyVad, SpeechStarted
from simulator.voice import BYTES_PER_MS, Voice

Event = dict[str, Any]
MIN_COMMIT_MS = 100
CLIENT_EVENTS = (
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.truncate",
    "conversation.item.delete",
    "conversation.item.retrieve",
    "response.create",
    "response.cancel",
)


@dataclass(frozen=True, slots=True)
class Close:
    code: int
    reason: str
    abrupt: bool = False
    """Drop the connection without a close frame, as a network failure does (code 1006)."""


NETWORK_DROP = Close(1006, "simulated network drop", abrupt=True)


@dataclass
class SessionLog:
    """What the client did, for tests and the simulator's console."""

    client_events: list[str] = field(default_factory=list)
    truncations: list[Event] = field(default_factory=list)
    tool_outputs: dict[str, str] = field(default_factory=dict)
    errors: list[Event] = field(default_factory=list)
    responses: list[tuple[str, str]] = field(default_factory=list)


class SimulatedSession:
    def __init__(
        self,
        *,
        session: dict[str, Any],
        progress: ScriptProgress,
        voice: Voice,
        pacing: Pacing,
        now: float,
        max_duration_s: float = 3600.0,
    ) -> None:
        self.session = session
        self.model = ScriptedModel(progress, voice)
        self.pacing = pacing
        self.ids = Ids()
        self.log = SessionLog()
        self.close: Close | None = None
        self.conversation = Conversation()
        self._outbox: deque[Event] = deque()
        self._timers: list[tuple[float, int, list[Event]]] = []
        self._timer_seq = 0
        self._response: ResponseStream | None = None
        self._expires_at = now + max_duration_s
        detection = TurnDetection.of(session)
        self._vad = EnergyVad(detection) if detection else None
        self._audio_ms = 0.0
        self._buffer_from_ms = 0.0
        self._speech_item: str | None = None
        self._emit({"type": "session.created", "session": session})

    # ------------------------------------------------------------------ the I/O contract

    def receive(self, message: str | bytes, now: float) -> None:
        """One client message (a WebSocket frame's text)."""
        if self.close is not None:
            return
        client_event_id: str | None = None
        try:
            event = json.loads(message)
            if not isinstance(event, dict):
                raise Refused("invalid_json", "Expected a JSON object as the event.")
            client_event_id = (
                event.get("event_id") if isinstance(event.get("event_id"), str) else None
            )
            kind = event.get("type")
            if not isinstance(kind, str):
                raise Refused(
                    "missing_required_parameter", "Missing required parameter: 'type'.", "type"
                )
            self.log.client_events.append(kind)
            if kind not in CLIENT_EVENTS:
                supported = ", ".join(f"'{t}'" for t in CLIENT_EVENTS)
                raise Refused(
                    "invalid_value",
                    f"Invalid value: '{kind[:64]}'. Supported values are: {supported}.",
                    "type",
                )
            getattr(self, "_on_" + kind.replace(".", "_"))(event, now)
        except (json.JSONDecodeError, UnicodeDecodeError):
            self._error("invalid_json", "The event is not valid JSON.", None, None)
        except Refused as refused:
            self._error(refused.code, refused.message, refused.param, client_event_id)

    def poll(self, now: float) -> list[Event]:
        """Every event due by ``now``, in order."""
        if self.close is None and now >= self._expires_at:
            self._error(
                "session_expired",
                "Your session hit the maximum duration of 60 minutes.",
                None,
                None,
            )
            self.close = Close(1000, "session_expired")
        while True:
            timer_due = self._timers[0][0] if self._timers else None
            response_due = self._response.next_due() if self._response else None
            if (
                timer_due is not None
                and timer_due <= now
                and (response_due is None or timer_due <= response_due)
            ):
                for event in heapq.heappop(self._timers)[2]:
                    self._emit(event)
            elif response_due is not None and response_due <= now and self._response:
                stream = self._response
                for event in stream.step(now):
                    self._emit(event)
                if stream.dropped:
                    self.close = NETWORK_DROP
                    break
                if stream.done:
                    self._response_finished(stream)
            else:
                break
        events = list(self._outbox)
        self._outbox.clear()
        return events

    @property
    def responding(self) -> bool:
        """A response is being generated."""
        return self._response is not None

    def next_due(self) -> float:
        """When :meth:`poll` has something to release next (at the latest, expiry)."""
        candidates = [self._expires_at]
        if self._timers:
            candidates.append(self._timers[0][0])
        if self._response and (due := self._response.next_due()) is not None:
            candidates.append(due)
        return min(candidates)

    # ------------------------------------------------------------------ emitting

    def _emit(self, event: Event) -> None:
        event = {"event_id": self.ids.new("event"), **event}
        if event["type"] == "error":
            self.log.errors.append(event["error"])
        self._outbox.append(event)

    def server_error(self) -> None:
        """Tell the client the server failed on its last event (the session goes on)."""
        message = "The server had an error while processing your request. Sorry about that!"
        self._error("server_error", message, None, None, kind="server_error")

    def _error(
        self,
        code: str,
        message: str,
        param: str | None,
        client_event_id: str | None,
        kind: str = "invalid_request_error",
    ) -> None:
        self._emit(
            {
                "type": "error",
                "error": {
                    "type": kind,
                    "code": code,
                    "message": redact(message),
                    "param": param,
                    "event_id": client_event_id,
                },
            }
        )

    def _later(self, due: float, events: list[Event]) -> None:
        self._timer_seq += 1
        heapq.heappush(self._timers, (due, self._timer_seq, events))

    # ------------------------------------------------------------------ session

    def _on_session_update(self, event: Event, now: float) -> None:
        update = event.get("session")
        problem = check_session(update)
        if problem is not None:
            raise Refused(problem.code, problem.message, problem.param)
        assert isinstance(update, dict)
        new_voice = update.get("audio", {}).get("output", {}).get("voice")
        old_voice = self.session.get("audio", {}).get("output", {}).get("voice")
        if new_voice and new_voice != old_voice and self.conversation.has_assistant_audio():
            raise Refused(
                "cannot_update_voice",
                "Cannot update a conversation's voice if assistant audio is present.",
                "session.audio.output.voice",
            )
        self.session = merge_session(
            self.session, {k: v for k, v in update.items() if k != "model"}
        )
        detection = TurnDetection.of(self.session)
        if detection is None:
            self._vad = None
        elif self._vad is None:
            self._vad = EnergyVad(detection)
        else:
            self._vad.reconfigure(detection)
        self._emit({"type": "session.updated", "session": self.session})

    # ------------------------------------------------------------------ input audio

    def _on_input_audio_buffer_append(self, event: Event, now: float) -> None:
        audio = event.get("audio")
        if not isinstance(audio, str):
            raise Refused(
                "missing_required_parameter", "Missing required parameter: 'audio'.", "audio"
            )
        try:
            pcm = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Refused("invalid_value", "Invalid 'audio': not valid base64.", "audio") from exc
        if len(pcm) % 2:
            raise Refused(
                "invalid_value",
                "Invalid 'audio': PCM16 audio has an even number of bytes.",
                "audio",
            )
        self._audio_ms += len(pcm) / BYTES_PER_MS
        if self._vad is None:
            return
        for vad_event in self._vad.feed(pcm):
            if isinstance(vad_event, SpeechStarted):
                self._speech_started(vad_event.audio_start_ms, now)
            else:
                self._speech_stopped(vad_event.audio_end_ms, now)

    def _speech_started(self, audio_start_ms: int, now: float) -> None:
        self._speech_item = self.ids.new("item")
        self._emit(
            {
                "type": "input_audio_buffer.speech_started",
                "audio_start_ms": audio_start_ms,
                "item_id": self._speech_item,
            }
        )
        self._buffer_from_ms = audio_start_ms
        if self._response is not None and self._vad and self._vad.detection.interrupt_response:
            self._cancel_response("turn_detected")

    def _speech_stopped(self, audio_end_ms: int, now: float) -> None:
        item_id = self._speech_item or self.ids.new("item")
        self._speech_item = None
        self._emit(
            {
                "type": "input_audio_buffer.speech_stopped",
                "audio_end_ms": audio_end_ms,
                "item_id": item_id,
            }
        )
        duration = max(0, audio_end_ms - int(self._buffer_from_ms))
        self._buffer_from_ms = audio_end_ms
        committed = self._commit(item_id, duration, now)
        auto = self._vad is not None and self._vad.detection.create_response
        if committed and auto and self._response is None:
            self._start_response(now)

    def _on_input_audio_buffer_commit(self, event: Event, now: float) -> None:
        buffered = int(self._audio_ms - self._buffer_from_ms)
        if buffered < MIN_COMMIT_MS:
            raise Refused(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS}ms of audio, but buffer only has {buffered}.00ms of audio.",
            )
        self._buffer_from_ms = self._audio_ms
        self._commit(self._speech_item or self.ids.new("item"), buffered, now)
        self._speech_item = None

    def _on_input_audio_buffer_clear(self, event: Event, now: float) -> None:
        self._buffer_from_ms = self._audio_ms
        self._emit({"type": "input_audio_buffer.cleared"})

    def _commit(self, item_id: str, duration_ms: int, now: float) -> bool:
        """The member's speech becomes a conversation item; False when a fault ended it."""
        item = Item(id=item_id, kind="user", audio_ms=duration_ms, has_audio=True)
        previous = self.conversation.add(item)
        self._emit(
            {
                "type": "input_audio_buffer.committed",
                "previous_item_id": previous,
                "item_id": item_id,
            }
        )
        for kind in ("conversation.item.added", "conversation.item.done"):
            self._emit({"type": kind, "previous_item_id": previous, "item": item.wire()})
        heard = self.model.heard(duration_ms)
        item.text = heard.transcript
        if heard.fault is Fault.SERVER_ERROR:
            # The words were heard and transcribed; then the server fails and hangs up.
            if transcribes_input(self.session):
                for event in self._transcription(item):
                    self._emit(event)
            self.server_error()
            self.close = Close(1011, "server_error")
            return False
        if transcribes_input(self.session):
            self._later(now, self._transcription(item))
        return True

    def _transcription(self, item: Item) -> list[Event]:
        tokens = audio_tokens(item.audio_ms, USER_AUDIO_MS_PER_TOKEN)
        out = text_tokens(item.text)
        where = {"item_id": item.id, "content_index": 0}
        usage = {
            "type": "tokens",
            "input_tokens": tokens,
            "output_tokens": out,
            "total_tokens": tokens + out,
            "input_token_details": {"text_tokens": 0, "audio_tokens": tokens},
        }
        return [
            {
                "type": "conversation.item.input_audio_transcription.delta",
                **where,
                "delta": item.text,
            },
            {
                "type": "conversation.item.input_audio_transcription.completed",
                **where,
                "transcript": item.text,
                "usage": usage,
            },
        ]

    # ------------------------------------------------------------------ conversation items

    def _on_conversation_item_create(self, event: Event, now: float) -> None:
        item = self.conversation.item_from_client(event.get("item"), self.ids)
        previous = self.conversation.add(item)
        if item.kind == "function_call_output" and item.call_id:
            self.log.tool_outputs[item.call_id] = item.text
        if item.kind == "user":
            self.model.replayed(item.text, item.has_audio)
        for kind in ("conversation.item.added", "conversation.item.done"):
            self._emit({"type": kind, "previous_item_id": previous, "item": item.wire()})

    def _on_conversation_item_truncate(self, event: Event, now: float) -> None:
        item_id, audio_end_ms = event.get("item_id"), event.get("audio_end_ms")
        if not isinstance(item_id, str) or not isinstance(audio_end_ms, int):
            raise Refused(
                "missing_required_parameter",
                "conversation.item.truncate needs 'item_id' and 'audio_end_ms'.",
            )
        item = self.conversation.get(item_id)
        if self._response is not None and item.status == "in_progress":
            self._cancel_response("client_cancelled")  # stop producing what is being cut
        self.conversation.truncate(item, event.get("content_index", 0), audio_end_ms)
        self.log.truncations.append({"item_id": item_id, "audio_end_ms": audio_end_ms})
        self._emit(
            {
                "type": "conversation.item.truncated",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": audio_end_ms,
            }
        )

    def _on_conversation_item_delete(self, event: Event, now: float) -> None:
        item = self.conversation.get(event.get("item_id"))
        del self.conversation.items[item.id]
        self._emit({"type": "conversation.item.deleted", "item_id": item.id})

    def _on_conversation_item_retrieve(self, event: Event, now: float) -> None:
        item = self.conversation.get(event.get("item_id"))
        self._emit({"type": "conversation.item.retrieved", "item": item.wire()})

    # ------------------------------------------------------------------ responses

    def _on_response_create(self, event: Event, now: float) -> None:
        if self._response is not None:
            raise Refused(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self._response.id}. "
                "Wait until the response is finished before creating a new one.",
            )
        self._start_response(now)

    def _on_response_cancel(self, event: Event, now: float) -> None:
        wanted = event.get("response_id")
        if self._response is None or (wanted is not None and wanted != self._response.id):
            raise Refused(
                "response_cancel_not_active", "Cancellation failed: no active response found."
            )
        self._cancel_response("client_cancelled")

    def _start_response(self, now: float) -> None:
        member_spoke = any(i.kind == "user" for i in self.conversation.items.values())
        answer = self.model.answer(self.session, member_spoke)
        stream = ResponseStream(
            parts=answer.parts,
            conversation=self.conversation,
            session=self.session,
            ids=self.ids,
            pacing=self.pacing,
            now=now,
            failure=answer.failure,
            drop_midway=answer.drop_midway,
        )
        self._response = stream
        for event in stream.created:
            self._emit(event)
        self._emit(
            {
                "type": "rate_limits.updated",
                "rate_limits": [
                    {"name": "requests", "limit": 5000, "remaining": 4999, "reset_seconds": 0.012},
                    {"name": "tokens", "limit": 40000, "remaining": 36000, "reset_seconds": 6.0},
                ],
            }
        )

    def _cancel_response(self, reason: str) -> None:
        stream = self._response
        assert stream is not None
        for event in stream.cancel(reason):
            self._emit(event)
        self._response_finished(stream)

    def _response_finished(self, stream: ResponseStream) -> None:
        self._response = None
        self.log.responses.append((stream.id, stream.status))
        self.model.response_finished(stream.status == "completed")
