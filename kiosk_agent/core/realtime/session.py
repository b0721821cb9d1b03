"""The session itself: :class:`RealtimeSession`, fed what happens, answering with actions.

Server events, microphone frames, playback progress, tool results, connection loss and the
passing of time go in; :data:`~kiosk_agent.core.realtime.actions.Action` values come out.
It never awaits, sleeps, reads a clock or touches a socket.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from contract.backoff import Backoff
from contract.kiosk_api import EndReason, Reconnection, ToolCallRecord, ToolCallResponse
from contract.pricing import TranscriptionUsage
from kiosk_agent.core.realtime.actions import (
    Action,
    FlushPlayback,
    Reconnect,
    SendEvent,
    SessionEnded,
    send,
)
from kiosk_agent.core.realtime.barge_in import Playback
from kiosk_agent.core.realtime.facts import RealtimeFacts
from kiosk_agent.core.realtime.latency import LatencyClock
from kiosk_agent.core.realtime.limits import SessionLimits
from kiosk_agent.core.realtime.protocol import BYTES_PER_MS, FATAL_CODES, ProtocolViolation, redact
from kiosk_agent.core.realtime.sent_audio import SentAudio
from kiosk_agent.core.realtime.server_events import ServerEvents
from kiosk_agent.core.realtime.state import Call, Owed, Phase, Response
from kiosk_agent.core.realtime.transcript import Transcript


class RealtimeSession(ServerEvents):
    def __init__(
        self,
        *,
        session: Mapping[str, Any],
        model: str,
        now: float,
        started_at: datetime,
        limits: SessionLimits | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """``session``: the GA session object (or a whole `session.update` event) the cloud
        built; ``now``: the adapter's monotonic clock; ``started_at``: the same instant, UTC."""
        inner = session.get("session") if session.get("type") == "session.update" else session
        if not isinstance(inner, Mapping):
            raise ValueError("the session config must be a GA session object")
        self._session_update = {"type": "session.update", "session": dict(inner)}
        detection = (inner.get("audio") or {}).get("input", {}).get("turn_detection") or {}
        self._barge_in = bool(detection.get("interrupt_response", True))
        self._playback = Playback(self._barge_in)
        self.limits = limits or SessionLimits()
        self._rng = rng or random.Random()
        self._t0 = now
        self.phase = Phase.CONNECTING
        self.facts = RealtimeFacts(model=model, started_at=started_at)
        transcribe = (inner.get("audio") or {}).get("input", {}).get("transcription") or {}
        if isinstance(transcribe.get("model"), str):
            self.facts.transcription = TranscriptionUsage(model=transcribe["model"])
        self._transcript = Transcript()
        self._responses: dict[str, Response] = {}
        self._active: str | None = None
        self._calls: dict[str, Call] = {}
        self._continue_after_active = False
        self._user_speaking = False
        self._latency = LatencyClock()
        self._last_activity = now
        self._closing: EndReason | None = None
        self._closing_since = 0.0
        self._greeted = False
        self._connection = 0
        self._attempts = 0
        self._fatal: str | None = None
        self._update_event_id = ""
        self._owed: Owed | None = None
        self._response_seq = 0
        self._sent_audio = SentAudio()
        self._lost_at: float | None = None

    # ------------------------------------------------------------------ connection

    def connected(self, now: float) -> list[Action]:
        """A socket is open: configure the session, then greet the member on the first one;
        after a reconnect, replay the conversation so JARVIS keeps its context, and ask again
        for the answer the member was still waiting for.

        What is asked for goes out right behind `session.update`, without waiting for
        `session.updated`: the server applies client events in order, and the greeting is a
        round trip sooner. A refused `session.update` still ends the session (it names its
        `event_id`)."""
        if self.phase is Phase.ENDED:
            return []
        self._connection += 1
        self.phase = Phase.CONFIGURING
        self._last_activity = now
        self._update_event_id = f"evt_kiosk_session_update_{self._connection}"
        actions: list[Action] = [send({**self._session_update, "event_id": self._update_event_id})]
        if self._connection > 1:
            actions.extend(self._transcript.replay())
        elif self.limits.greet_first and not self._greeted:
            self._greeted = True
            self._owed = Owed(None, after=self._response_seq)
        owed = self._owed
        if owed is not None and owed.asked_on != self._connection:
            owed.asked_on = self._connection
            if self._connection > 1 and self.facts.reconnections:
                last = self.facts.reconnections[-1]
                self.facts.reconnections[-1] = last.model_copy(update={"asked_again": True})
            if owed.user_item is not None:
                again = self._latency.asked_again(owed.user_item)
                if again is not None:
                    self.facts.latencies.append(again)
            actions.append(send({"type": "response.create"}))
        return actions

    def connection_lost(
        self, now: float, code: int | None = None, reason: str = ""
    ) -> list[Action]:
        """The socket closed (``code``/``reason`` from the close frame when there was one)."""
        if self.phase is Phase.ENDED:
            return []
        fatal = self._fatal or next((c for c in FATAL_CODES if c in reason), None)
        if fatal:
            return self._end(EndReason.REALTIME_ERROR, fatal, now)
        return self._retry(now, f"connection closed ({code}: {reason})" if code else reason)

    def connect_failed(self, now: float, status: int | None, detail: str) -> list[Action]:
        """Opening the socket failed (HTTP ``status`` of a refused upgrade, if any)."""
        if self.phase is Phase.ENDED:
            return []
        if status in (401, 403):
            return self._end(EndReason.REALTIME_ERROR, f"refused with HTTP {status}", now)
        return self._retry(now, redact(detail))

    def _retry(self, now: float, why: str) -> list[Action]:
        self.phase = Phase.RECONNECTING
        actions = self._forget_connection()
        self._attempts += 1
        if self._attempts > self.limits.max_reconnects:
            return actions + self._end(EndReason.NETWORK_ERROR, why, now)
        self._lost_at = now
        self.facts.reconnections.append(
            Reconnection(at=self._wall(now), cause=why[:4000] or "?", attempt=self._attempts)
        )
        backoff = Backoff(self.limits.backoff_initial_s, self.limits.backoff_max_s)
        delay = backoff.delay(self._attempts, self._rng)
        return [*actions, Reconnect(delay_s=delay, attempt=self._attempts)]

    def _forget_connection(self) -> list[Action]:
        """Let go of what belonged to the lost connection (the server's conversation is
        gone): its responses, the audio sent on it, and its playback — an answer cut short
        stops playing (it will be asked for again), and nothing of it is ever truncated on
        the next connection."""
        active = self._responses.get(self._active) if self._active else None
        owed = self._owed
        if owed is not None and active is not None and active.seq > owed.after and active.answers:
            self._owed = None  # all of the answer arrived; only its `response.done` was lost
        unfinished = self._playback.unfinished()
        self._playback = Playback(self._barge_in)
        self._sent_audio.reset()
        self._active = None
        self._continue_after_active = False
        self._user_speaking = False
        if self._owed is None or self._owed.user_item is None:
            self._latency.forget_pending()
        return [FlushPlayback(unfinished)] if unfinished else []

    # ------------------------------------------------------------------ inputs

    def microphone(self, pcm: bytes, now: float) -> list[Action]:
        """A microphone frame (24 kHz PCM16)."""
        if self.phase not in (Phase.CONFIGURING, Phase.ACTIVE):
            if self.phase is not Phase.ENDED:
                self.facts.dropped_audio_ms += len(pcm) // BYTES_PER_MS
            return []
        self._sent_audio.add(pcm)
        audio = base64.b64encode(pcm).decode("ascii")
        return [
            SendEvent(
                "input_audio_buffer.append",
                json.dumps({"type": "input_audio_buffer.append", "audio": audio}),
            )
        ]

    def receive(self, message: str | bytes | Mapping[str, Any], now: float) -> list[Action]:
        """One server event (JSON text or already decoded)."""
        if self.phase is Phase.ENDED:
            return []
        event: Any = None
        try:
            event = json.loads(message) if isinstance(message, str | bytes) else message
            if not isinstance(event, Mapping) or not isinstance(event.get("type"), str):
                raise ProtocolViolation("a server event is a JSON object with a type")
            handler = getattr(self, "_on_" + event["type"].replace(".", "_"), None)
            if handler is None:
                self.facts.ignored_events[event["type"]] += 1
                return []
            actions: list[Action] = handler(event, now)
            return actions
        except (ProtocolViolation, ValueError, KeyError, TypeError, AttributeError) as exc:
            kind = event.get("type") if isinstance(event, Mapping) else "?"
            self._note_error(f"malformed server event {kind!s:.60}: {exc!s:.200}")
            return []

    def playback_flushed(self, item_id: str, played_ms: int, now: float) -> list[Action]:
        """Answer to :class:`FlushPlayback`: ``played_ms`` of the item reached the speaker.
        The item is truncated there when it belongs to the current connection."""
        draft = self._transcript.drafts.get(item_id)
        if draft is not None and draft.audio_ms is not None:
            draft.interrupted = not draft.complete or played_ms < draft.audio_ms
            draft.audio_ms = min(draft.audio_ms, max(0, played_ms))  # what the member heard
        end = self._playback.flushed(item_id, played_ms)
        if end is None or self.phase is Phase.ENDED:
            return []
        self.facts.truncations.append((item_id, end))
        return [
            send(
                {
                    "type": "conversation.item.truncate",
                    "item_id": item_id,
                    "content_index": 0,
                    "audio_end_ms": end,
                }
            )
        ]

    def first_sample_played(self, item_id: str, now: float) -> None:
        """The speaker played the first sample of ``item_id`` (for the latency figures)."""
        self._latency.first_sample_played(item_id, now)
        if item_id == self.facts.greeting_item and self.facts.greeting_played_at is None:
            self.facts.greeting_played_at = now

    def tool_finished(self, call_id: str, result: ToolCallResponse, now: float) -> list[Action]:
        """The tool behind a :class:`RunTool` answered (or failed: ``result.ok`` False)."""
        call = self._calls.get(call_id)
        if call is None or call.finished:
            return []
        call.finished = True
        self._last_activity = now
        duration = max(0, round((now - call.started_at) * 1000))
        self.facts.tool_calls.append(
            ToolCallRecord(
                call_id=call_id,
                name=call.name,
                arguments=call.arguments,
                ok=result.ok,
                error=None if result.ok else (result.error or "the tool failed")[:4000],
                duration_ms=duration,
            )
        )
        self._transcript.add_tool_turn(call_id, call.name, call.arguments, call.started_at, result)
        if result.end_session and self._closing is None:
            self._closing, self._closing_since = EndReason.TOOL_END_SESSION, now
        if self.phase is Phase.ENDED or call.connection != self._connection:
            return []  # that conversation is gone: the result has nowhere to go
        payload = (
            (result.output or {"ok": True})
            if result.ok
            else {"error": result.error or "the tool failed"}
        )
        output = json.dumps(payload, ensure_ascii=False)
        actions: list[Action] = [
            send(
                {
                    "type": "conversation.item.create",
                    "item": {"type": "function_call_output", "call_id": call_id, "output": output},
                }
            )
        ]
        return actions + self._continue(call.response_id)

    def tick(self, now: float, playing: bool) -> list[Action]:
        """Time passes; ``playing``: the speaker still has the kiosk's audio to play."""
        if self.phase is Phase.ENDED:
            return []
        if now - self._t0 >= self.limits.max_session_s:
            return self._end(EndReason.MAX_DURATION, "", now)
        if playing:
            self._last_activity = now
        else:
            self._playback.drained()
        if self.phase is not Phase.ACTIVE:
            return []
        busy = (
            playing
            or self._active is not None
            or self._user_speaking
            or any(not c.finished for c in self._calls.values())
        )
        if busy:
            return []
        if self._closing is not None and any(
            r.status != "in_progress" and r.created_at >= self._closing_since
            for r in self._responses.values()
        ):
            return self._end(self._closing, "", now)
        if now - self._last_activity >= self.limits.idle_timeout_s:
            return self._end(self._closing or EndReason.IDLE_TIMEOUT, "", now)
        return []

    def failed(self, now: float, detail: str) -> list[Action]:
        """The adapter broke (a bug, a dead device): the session ends by itself."""
        if self.phase is Phase.ENDED:
            return []
        self._note_error(detail)
        return self._end(EndReason.REALTIME_ERROR, detail, now)

    def end(self, reason: EndReason, now: float, detail: str = "") -> list[Action]:
        """The kiosk ends the session (new badge, shutdown, budget...)."""
        if self.phase is Phase.ENDED:
            return []
        actions = self._end(reason, detail, now)
        self.facts.ended_by_itself = False
        return actions

    # ------------------------------------------------------------------ helpers

    def _continue(self, response_id: str) -> list[Action]:
        """After a tool round: ask for the answer once the response that called the tools is
        done and every tool has answered. Not after a cancelled or failed response: the
        member has moved on (their new turn gets its own response)."""
        response = self._responses.get(response_id)
        if response is None or response.status != "completed" or not response.calls:
            return []
        if any(not self._calls[c].finished for c in response.calls):
            return []
        response.calls = []  # continue once
        if self._active is not None:
            self._continue_after_active = True
            return []
        return [send({"type": "response.create"})]

    def _note_error(self, text: str) -> None:
        if len(self.facts.errors) < 100:
            self.facts.errors.append(redact(text)[:4000])

    def _end(self, reason: EndReason, detail: str, now: float) -> list[Action]:
        self.phase = Phase.ENDED
        self.facts.ended_by_itself = True
        self.facts.end_reason = reason
        self.facts.end_detail = redact(detail)
        self.facts.ended_at = self._wall(now)
        self.facts.turns = self._transcript.turns(
            self.facts.started_at, self._t0, self.facts.latencies
        )
        return [SessionEnded(reason, self.facts.end_detail)]

    def snapshot(self) -> RealtimeFacts:
        """The facts so far (turns included) without ending the session."""
        if self.phase is not Phase.ENDED:
            self.facts.turns = self._transcript.turns(
                self.facts.started_at, self._t0, self.facts.latencies
            )
        return self.facts

    def _wall(self, now: float) -> datetime:
        """The adapter's clock reading ``now`` as a UTC time."""
        return self.facts.started_at + timedelta(seconds=now - self._t0)

    def awaiting_playback(self) -> list[str]:
        """Items whose first played sample the latency figures still wait for."""
        waiting = self._latency.awaiting_playback()
        greeting = self.facts.greeting_item
        if (
            greeting is not None
            and self.facts.greeting_played_at is None
            and greeting not in waiting
        ):
            waiting.append(greeting)
        return waiting
