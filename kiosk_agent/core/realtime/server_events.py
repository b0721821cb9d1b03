"""How each server event changes the session: the ``_on_<type>`` handlers.

:meth:`RealtimeSession.receive` calls the handler named after an event's type (dots as
underscores); events without one are only counted (``facts.ignored_events``).
"""

from __future__ import annotations

import base64
import binascii
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from contract.kiosk_api import EndReason, ToolCallResponse
from contract.pricing import TokenUsage
from kiosk_agent.core.realtime.actions import Action, Caption, PlayAudio, RunTool, send
from kiosk_agent.core.realtime.barge_in import Playback
from kiosk_agent.core.realtime.facts import RealtimeFacts
from kiosk_agent.core.realtime.latency import LatencyClock
from kiosk_agent.core.realtime.limits import SessionLimits, said_goodbye
from kiosk_agent.core.realtime.protocol import (
    BENIGN_CODES,
    FATAL_CODES,
    ProtocolViolation,
    int_field,
    text_field,
)
from kiosk_agent.core.realtime.sent_audio import SentAudio
from kiosk_agent.core.realtime.state import Call, Owed, Phase, Response
from kiosk_agent.core.realtime.transcript import Transcript


class ServerEvents(ABC):
    """The server-event half of :class:`RealtimeSession`, its base: the state the handlers
    read and change is the session's, declared here with the session's operations they use."""

    phase: Phase
    limits: SessionLimits
    facts: RealtimeFacts
    _transcript: Transcript
    _playback: Playback
    _latency: LatencyClock
    _responses: dict[str, Response]
    _active: str | None
    _calls: dict[str, Call]
    _continue_after_active: bool
    _user_speaking: bool
    _last_activity: float
    _closing: EndReason | None
    _closing_since: float
    _greeted: bool
    _connection: int
    _attempts: int
    _fatal: str | None
    _update_event_id: str
    _owed: Owed | None
    _response_seq: int
    _sent_audio: SentAudio
    _lost_at: float | None

    @abstractmethod
    def tool_finished(self, call_id: str, result: ToolCallResponse, now: float) -> list[Action]:
        """The tool behind a :class:`RunTool` answered (or failed: ``result.ok`` False)."""

    @abstractmethod
    def _continue(self, response_id: str) -> list[Action]: ...

    @abstractmethod
    def _note_error(self, text: str) -> None: ...

    @abstractmethod
    def _end(self, reason: EndReason, detail: str, now: float) -> list[Action]: ...

    def _on_session_updated(self, event: Mapping[str, Any], now: float) -> list[Action]:
        if self.phase is Phase.CONFIGURING:
            self.phase = Phase.ACTIVE
            self._attempts = 0
            if self._lost_at is not None and self.facts.reconnections:
                waited = max(0, round((now - self._lost_at) * 1000))
                last = self.facts.reconnections[-1]
                self.facts.reconnections[-1] = last.model_copy(update={"resumed_after_ms": waited})
                self._lost_at = None
        return []

    def _on_input_audio_buffer_speech_started(
        self, event: Mapping[str, Any], now: float
    ) -> list[Action]:
        item_id = text_field(event, "item_id")
        self._user_speaking = True
        self._last_activity = now
        self._latency.forget_pending()
        draft = self._transcript.draft("user", item_id, now)
        draft.audio_start_ms = int_field(event, "audio_start_ms")
        return self._playback.member_started()

    def _on_input_audio_buffer_speech_stopped(
        self, event: Mapping[str, Any], now: float
    ) -> list[Action]:
        item_id = text_field(event, "item_id")
        self._user_speaking = False
        self._last_activity = now
        draft = self._transcript.draft("user", item_id, now)
        draft.audio_end_ms = int_field(event, "audio_end_ms")
        if draft.audio_start_ms is not None:
            draft.audio_ms = max(0, draft.audio_end_ms - draft.audio_start_ms)
        self.facts.latencies.append(self._latency.speech_stopped(item_id, now))
        return []

    def _on_input_audio_buffer_committed(
        self, event: Mapping[str, Any], now: float
    ) -> list[Action]:
        item_id = text_field(event, "item_id")
        for earlier in self._transcript.drafts.values():
            earlier.pcm = None  # only the last words are ever replayed as audio
        draft = self._transcript.draft("user", item_id, now)
        if not draft.complete and draft.audio_end_ms is not None:
            # Kept until transcribed: if the connection drops first, these are the words
            # JARVIS still owes an answer to.
            draft.pcm = self._sent_audio.between(draft.audio_start_ms or 0, draft.audio_end_ms)
        self._owed = Owed(item_id, after=self._response_seq, asked_on=self._connection)
        return []

    def _on_conversation_item_input_audio_transcription_completed(
        self, event: Mapping[str, Any], now: float
    ) -> list[Action]:
        item_id = text_field(event, "item_id")
        transcript = text_field(event, "transcript")
        draft = self._transcript.draft("user", item_id, now)
        draft.text = transcript
        draft.complete, draft.pcm = True, None
        self.facts.transcription = self.facts.transcription.plus_event(event.get("usage"))
        if self._closing is None and said_goodbye(transcript, self.limits.goodbyes):
            self._closing, self._closing_since = EndReason.GOODBYE, draft.at
        return [Caption("user", transcript, item_id)]

    def _on_conversation_item_input_audio_transcription_failed(
        self, event: Mapping[str, Any], now: float
    ) -> list[Action]:
        error = event.get("error") if isinstance(event.get("error"), Mapping) else {}
        assert isinstance(error, Mapping)
        self._note_error(f"transcription failed: {error.get('message', '')!s:.200}")
        return []

    def _on_response_created(self, event: Mapping[str, Any], now: float) -> list[Action]:
        response_id = text_field(event["response"], "id")
        self._response_seq += 1
        self._responses[response_id] = Response(response_id, now, seq=self._response_seq)
        self._active = response_id
        self._last_activity = now
        return []

    def _on_response_output_item_added(self, event: Mapping[str, Any], now: float) -> list[Action]:
        item = event["item"]
        if item.get("type") == "message":
            self._transcript.draft("assistant", text_field(item, "id"), now)
        return []

    def _on_response_output_audio_delta(self, event: Mapping[str, Any], now: float) -> list[Action]:
        item_id = text_field(event, "item_id")
        try:
            pcm = base64.b64decode(text_field(event, "delta"), validate=True)
        except binascii.Error as exc:
            raise ProtocolViolation("audio delta is not base64") from exc
        self._last_activity = now
        if self._playback.interrupted(item_id):
            return []  # the member interrupted this item: its late audio is not played
        if not self._playback.started(item_id):
            self._transcript.draft("assistant", item_id, now)
            self._latency.first_audio(item_id, now)
            if self.facts.greeting_item is None:  # JARVIS's first words: the greeting
                self.facts.greeting_item, self.facts.greeting_audio_at = item_id, now
        self._transcript.drafts[item_id].audio_ms = self._playback.received(item_id, pcm)
        return [PlayAudio(item_id, pcm)]

    def _on_response_output_audio_done(self, event: Mapping[str, Any], now: float) -> list[Action]:
        item_id = text_field(event, "item_id")
        self._spoke_all(event, item_id, now)
        return self._playback.done(item_id)

    def _spoke_all(self, event: Mapping[str, Any], item_id: str, now: float) -> None:
        """All of a message's audio (or text) arrived."""
        self._transcript.draft("assistant", item_id, now).complete = True
        response = self._responses.get(str(event.get("response_id")))
        if response is not None and not self._playback.interrupted(item_id):
            response.spoke_all = True

    def _on_response_output_audio_transcript_delta(
        self, event: Mapping[str, Any], now: float
    ) -> list[Action]:
        item_id = text_field(event, "item_id")
        draft = self._transcript.draft("assistant", item_id, now)
        draft.text += text_field(event, "delta")
        if self._playback.interrupted(item_id):
            return []
        return [Caption("assistant", draft.text, item_id, final=False)]

    def _on_conversation_item_input_audio_transcription_delta(
        self, event: Mapping[str, Any], now: float
    ) -> list[Action]:
        item_id = text_field(event, "item_id")
        draft = self._transcript.draft("user", item_id, now)
        if draft.complete:
            return []
        draft.text += text_field(event, "delta")
        return [Caption("user", draft.text, item_id, final=False)]

    def _on_response_output_audio_transcript_done(
        self, event: Mapping[str, Any], now: float
    ) -> list[Action]:
        item_id = text_field(event, "item_id")
        draft = self._transcript.draft("assistant", item_id, now)
        draft.text = text_field(event, "transcript")
        return [Caption("assistant", draft.text, item_id)]

    _on_response_output_text_delta = _on_response_output_audio_transcript_delta

    def _on_response_output_text_done(self, event: Mapping[str, Any], now: float) -> list[Action]:
        item_id = text_field(event, "item_id")
        draft = self._transcript.draft("assistant", item_id, now)
        draft.text = text_field(event, "text")
        self._spoke_all(event, item_id, now)
        return [Caption("assistant", draft.text, item_id)]

    def _on_response_function_call_arguments_done(
        self, event: Mapping[str, Any], now: float
    ) -> list[Action]:
        call_id, name = text_field(event, "call_id"), text_field(event, "name")
        if call_id in self._calls:
            return []
        response_id = text_field(event, "response_id")
        response = self._responses.setdefault(response_id, Response(response_id, now))
        response.calls.append(call_id)
        response.called = True
        self._last_activity = now
        try:
            arguments = json.loads(text_field(event, "arguments") or "{}")
            if not isinstance(arguments, dict):
                raise ValueError("arguments are not a JSON object")
        except ValueError as exc:
            self._calls[call_id] = Call(name, {}, response_id, now, self._connection)
            bad = ToolCallResponse(ok=False, error=f"invalid arguments: {exc!s:.200}")
            return self.tool_finished(call_id, bad, now)
        self._calls[call_id] = Call(name, arguments, response_id, now, self._connection)
        return [RunTool(call_id, name, arguments)]

    def _on_response_done(self, event: Mapping[str, Any], now: float) -> list[Action]:
        body = event["response"]
        response_id = text_field(body, "id")
        status = str(body.get("status") or "completed")
        response = self._responses.setdefault(response_id, Response(response_id, now))
        response.status = status
        self._last_activity = now
        if self._active == response_id:
            self._active = None
        self.facts.responses += 1
        if status == "cancelled":
            self.facts.cancelled_responses += 1
        owed = self._owed
        if status == "completed" and owed and response.seq > owed.after and response.answers:
            self._owed = None
        self.facts.usage += TokenUsage.of_response(body.get("usage"))
        details = body.get("status_details") or {}
        if status == "failed":
            error = details.get("error") or {}
            code = str(error.get("code") or error.get("type") or "failed")
            self._note_error(f"response failed: {code}: {error.get('message', '')!s:.200}")
            if code in FATAL_CODES:
                self._fatal = code
                return self._end(EndReason.REALTIME_ERROR, code, now)
        actions = self._continue(response_id)
        if self._continue_after_active and self._active is None:
            self._continue_after_active = False
            actions.append(send({"type": "response.create"}))
        return actions

    def _on_conversation_item_truncated(self, event: Mapping[str, Any], now: float) -> list[Action]:
        return []

    def _on_rate_limits_updated(self, event: Mapping[str, Any], now: float) -> list[Action]:
        self.facts.rate_limits = [dict(r) for r in event.get("rate_limits") or []]
        return []

    def _on_error(self, event: Mapping[str, Any], now: float) -> list[Action]:
        error = event.get("error") or {}
        code = str(error.get("code") or error.get("type") or "unknown")
        if code in BENIGN_CODES:
            self.facts.benign_errors += 1
            return []
        self._note_error(f"{code}: {error.get('message', '')!s:.300}")
        about_config = (
            bool(self._update_event_id) and error.get("event_id") == self._update_event_id
        )
        if code in FATAL_CODES or (about_config and self.phase is Phase.CONFIGURING):
            self._fatal = code
            return self._end(EndReason.REALTIME_ERROR, code, now)
        return []
