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
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
import statistics
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from contract.kiosk_api import EndReason, Latency, ToolCallRecord, ToolCallResponse, Turn
from contract.pricing import TokenUsage, session_cost
from kiosk_agent.core.conversation import SessionFacts

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
_REPLAYED_TURNS = 20


class Phase(StrEnum):
    CONNECTING = "connecting"
    CONFIGURING = "configuring"
    """Connected, `session.update` sent, waiting for `session.updated`."""
    ACTIVE = "active"
    RECONNECTING = "reconnecting"
    ENDED = "ended"


# -- actions ---------------------------------------------------------------------------------


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
    """A finished line of the conversation, for a screen."""

    role: str
    text: str
    item_id: str


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


# -- settings and facts ----------------------------------------------------------------------

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


@dataclass(slots=True)
class TurnLatency:
    """One answer's latency: end of the member's speech → first audio received / played."""

    user_item_id: str | None
    speech_stopped_at: float
    response_ms: int | None = None
    playback_ms: int | None = None
    first_audio_at: float | None = None
    """When the first answer audio arrived (the adapter's clock), for finer figures."""
    first_played_at: float | None = None


Role = Literal["user", "assistant", "tool"]


@dataclass(slots=True)
class _Draft:
    role: Role
    item_id: str
    at: float
    text: str = ""
    audio_ms: int | None = None
    audio_start_ms: int | None = None


@dataclass(slots=True)
class _Call:
    name: str
    arguments: dict[str, Any]
    response_id: str
    started_at: float
    connection: int
    finished: bool = False


@dataclass(slots=True)
class _Response:
    id: str
    created_at: float
    status: str = "in_progress"
    calls: list[str] = field(default_factory=list)


@dataclass
class RealtimeFacts:
    """What the session record needs, kept up to date as the session runs."""

    model: str
    started_at: datetime
    usage: TokenUsage = field(default_factory=TokenUsage)
    transcription_tokens: int = 0
    turns: list[Turn] = field(default_factory=list)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    latencies: list[TurnLatency] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    benign_errors: int = 0
    responses: int = 0
    cancelled_responses: int = 0
    truncations: list[tuple[str, int]] = field(default_factory=list)
    """(item id, audio_end_ms) of every barge-in truncation sent."""
    reconnects: int = 0
    dropped_audio_ms: int = 0
    """Microphone audio that could not be sent (no connection)."""
    ignored_events: Counter[str] = field(default_factory=Counter)
    rate_limits: list[dict[str, Any]] = field(default_factory=list)
    end_reason: EndReason | None = None
    end_detail: str = ""
    ended_by_itself: bool = False
    """False when the kiosk ended it (:meth:`RealtimeSession.end`)."""
    ended_at: datetime | None = None

    @property
    def latency(self) -> Latency:
        """Per-session summary in the session record's shape."""
        answered = [t.response_ms for t in self.latencies if t.response_ms is not None]
        played = [t.playback_ms for t in self.latencies if t.playback_ms is not None]
        return Latency(
            first_response_ms=answered[0] if answered else None,
            avg_response_ms=round(statistics.fmean(answered)) if answered else None,
            p95_response_ms=percentile(answered, 95) if answered else None,
            avg_playback_ms=round(statistics.fmean(played)) if played else None,
        )

    @property
    def cost_usd(self) -> Decimal:
        return session_cost(self.model, self.usage)

    def session_facts(self) -> SessionFacts:
        """The facts the agent files in the session record."""
        return SessionFacts(
            turns=tuple(self.turns),
            tool_calls=tuple(self.tool_calls),
            usage=self.usage,
            transcription_tokens=self.transcription_tokens,
            latency=self.latency,
            end_reason=self.end_reason if self.ended_by_itself else None,
            errors=tuple(self.errors),
        )


def percentile(values: list[int], pct: float) -> int:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def redact(text: str) -> str:
    """Keys never reach a log or a session record, even when an error message quotes one."""
    return _SECRET_LIKE.sub(lambda m: m.group(0)[:3] + "***", text)


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class ProtocolViolation(ValueError):
    """A server event that cannot be understood (the peer misbehaved)."""


# -- the session -----------------------------------------------------------------------------


class RealtimeSession:
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
        self.limits = limits or SessionLimits()
        self._rng = rng or random.Random()
        self._t0 = now
        self.phase = Phase.CONNECTING
        self.facts = RealtimeFacts(model=model, started_at=started_at)
        self._drafts: dict[str, _Draft] = {}
        self._responses: dict[str, _Response] = {}
        self._active: str | None = None
        self._calls: dict[str, _Call] = {}
        self._continue_after_active = False
        self._received_ms: dict[str, float] = {}
        self._audio_done: set[str] = set()
        self._flushed: set[str] = set()
        self._speaking: str | None = None
        self._user_speaking = False
        self._pending_latency: TurnLatency | None = None
        self._awaiting_play: dict[str, TurnLatency] = {}
        self._last_activity = now
        self._closing: EndReason | None = None
        self._closing_since = 0.0
        self._greeted = False
        self._connection = 0
        self._attempts = 0
        self._fatal: str | None = None
        self._update_event_id = ""

    # ------------------------------------------------------------------ connection

    def connected(self, now: float) -> list[Action]:
        """A socket is open: configure the session (and replay the conversation after a
        reconnect, as text, so JARVIS keeps its context)."""
        if self.phase is Phase.ENDED:
            return []
        self._connection += 1
        self.phase = Phase.CONFIGURING
        self._last_activity = now
        self._update_event_id = f"evt_kiosk_session_update_{self._connection}"
        actions: list[Action] = [
            self._send({**self._session_update, "event_id": self._update_event_id})
        ]
        if self._connection > 1:
            actions.extend(self._replay())
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
        self._forget_connection()
        self._attempts += 1
        if self._attempts > self.limits.max_reconnects:
            return self._end(EndReason.NETWORK_ERROR, why, now)
        self.facts.reconnects += 1
        base = min(
            self.limits.backoff_max_s, self.limits.backoff_initial_s * 2 ** (self._attempts - 1)
        )
        delay = base / 2 + self._rng.uniform(0, base / 2)
        return [Reconnect(delay_s=delay, attempt=self._attempts)]

    def _forget_connection(self) -> None:
        """State that belonged to the lost connection (the server's conversation is gone)."""
        self._active = None
        self._continue_after_active = False
        self._user_speaking = False
        self._pending_latency = None

    def _replay(self) -> list[Action]:
        actions: list[Action] = []
        spoken = [d for d in self._drafts.values() if d.role in ("user", "assistant") and d.text]
        for draft in spoken[-_REPLAYED_TURNS:]:
            kind = "input_text" if draft.role == "user" else "output_text"
            item = {
                "type": "message",
                "role": draft.role,
                "content": [{"type": kind, "text": draft.text}],
            }
            actions.append(self._send({"type": "conversation.item.create", "item": item}))
        return actions

    # ------------------------------------------------------------------ inputs

    def microphone(self, pcm: bytes, now: float) -> list[Action]:
        """A microphone frame (24 kHz PCM16)."""
        if self.phase not in (Phase.CONFIGURING, Phase.ACTIVE):
            if self.phase is not Phase.ENDED:
                self.facts.dropped_audio_ms += len(pcm) // BYTES_PER_MS
            return []
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
        """Answer to :class:`FlushPlayback`: ``played_ms`` of the item reached the speaker."""
        self._flushed.add(item_id)
        if self._speaking == item_id:
            self._speaking = None
        received = int(self._received_ms.get(item_id, 0))
        end = min(played_ms, received)
        heard_all = item_id in self._audio_done and played_ms >= received
        if end <= 0 or heard_all or self.phase is Phase.ENDED:
            return []
        draft = self._drafts.get(item_id)
        if draft is not None:
            draft.audio_ms = end
        self.facts.truncations.append((item_id, end))
        return [
            self._send(
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
        latency = self._awaiting_play.pop(item_id, None)
        if latency is not None:
            latency.first_played_at = now
            latency.playback_ms = max(0, round((now - latency.speech_stopped_at) * 1000))

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
        self._add_tool_turn(call_id, call, result, now)
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
            self._send(
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
        elif self._speaking is not None and self._speaking in self._audio_done:
            self._speaking = None
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

    # ------------------------------------------------------------------ server events

    def _on_session_updated(self, event: Mapping[str, Any], now: float) -> list[Action]:
        if self.phase is not Phase.CONFIGURING:
            return []
        self.phase = Phase.ACTIVE
        self._attempts = 0
        if self.limits.greet_first and not self._greeted:
            self._greeted = True
            return [self._send({"type": "response.create"})]
        return []

    def _on_input_audio_buffer_speech_started(
        self, event: Mapping[str, Any], now: float
    ) -> list[Action]:
        item_id = _text(event, "item_id")
        self._user_speaking = True
        self._last_activity = now
        self._pending_latency = None
        draft = self._draft("user", item_id, now)
        draft.audio_start_ms = _int(event, "audio_start_ms")
        if self._barge_in and self._speaking is not None:
            item = self._speaking
            self._speaking = None
            return [FlushPlayback(item)]
        return []

    def _on_input_audio_buffer_speech_stopped(
        self, event: Mapping[str, Any], now: float
    ) -> list[Action]:
        item_id = _text(event, "item_id")
        self._user_speaking = False
        self._last_activity = now
        draft = self._draft("user", item_id, now)
        if draft.audio_start_ms is not None:
            draft.audio_ms = max(0, _int(event, "audio_end_ms") - draft.audio_start_ms)
        self._pending_latency = TurnLatency(item_id, now)
        self.facts.latencies.append(self._pending_latency)
        return []

    def _on_input_audio_buffer_committed(
        self, event: Mapping[str, Any], now: float
    ) -> list[Action]:
        self._draft("user", _text(event, "item_id"), now)
        return []

    def _on_conversation_item_input_audio_transcription_completed(
        self, event: Mapping[str, Any], now: float
    ) -> list[Action]:
        item_id = _text(event, "item_id")
        transcript = _text(event, "transcript")
        draft = self._draft("user", item_id, now)
        draft.text = transcript
        usage = event.get("usage")
        if isinstance(usage, Mapping) and usage.get("type") == "tokens":
            self.facts.transcription_tokens += int(usage.get("total_tokens") or 0)
        plain = _plain(transcript)
        if self._closing is None and any(
            re.search(rf"\b{re.escape(g)}\b", plain) for g in self.limits.goodbyes
        ):
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
        response_id = _text(event["response"], "id")
        self._responses[response_id] = _Response(response_id, now)
        self._active = response_id
        self._last_activity = now
        return []

    def _on_response_output_item_added(self, event: Mapping[str, Any], now: float) -> list[Action]:
        item = event["item"]
        if item.get("type") == "message":
            self._draft("assistant", _text(item, "id"), now)
        return []

    def _on_response_output_audio_delta(self, event: Mapping[str, Any], now: float) -> list[Action]:
        item_id = _text(event, "item_id")
        try:
            pcm = base64.b64decode(_text(event, "delta"), validate=True)
        except binascii.Error as exc:
            raise ProtocolViolation("audio delta is not base64") from exc
        self._last_activity = now
        if item_id in self._flushed:
            return []  # the member interrupted this item: its late audio is not played
        if item_id not in self._received_ms:
            self._received_ms[item_id] = 0.0
            self._draft("assistant", item_id, now)
            if self._pending_latency is not None:
                latency = self._pending_latency
                latency.first_audio_at = now
                latency.response_ms = max(0, round((now - latency.speech_stopped_at) * 1000))
                self._awaiting_play[item_id] = latency
                self._pending_latency = None
        self._received_ms[item_id] += len(pcm) / BYTES_PER_MS
        self._drafts[item_id].audio_ms = int(self._received_ms[item_id])
        self._speaking = item_id
        return [PlayAudio(item_id, pcm)]

    def _on_response_output_audio_done(self, event: Mapping[str, Any], now: float) -> list[Action]:
        item_id = _text(event, "item_id")
        self._audio_done.add(item_id)
        return [] if item_id in self._flushed else [FinishAudio(item_id)]

    def _on_response_output_audio_transcript_delta(
        self, event: Mapping[str, Any], now: float
    ) -> list[Action]:
        self._draft("assistant", _text(event, "item_id"), now).text += _text(event, "delta")
        return []

    def _on_response_output_audio_transcript_done(
        self, event: Mapping[str, Any], now: float
    ) -> list[Action]:
        item_id = _text(event, "item_id")
        draft = self._draft("assistant", item_id, now)
        draft.text = _text(event, "transcript")
        return [Caption("assistant", draft.text, item_id)]

    _on_response_output_text_delta = _on_response_output_audio_transcript_delta

    def _on_response_output_text_done(self, event: Mapping[str, Any], now: float) -> list[Action]:
        item_id = _text(event, "item_id")
        draft = self._draft("assistant", item_id, now)
        draft.text = _text(event, "text")
        return [Caption("assistant", draft.text, item_id)]

    def _on_response_function_call_arguments_done(
        self, event: Mapping[str, Any], now: float
    ) -> list[Action]:
        call_id, name = _text(event, "call_id"), _text(event, "name")
        if call_id in self._calls:
            return []
        response_id = _text(event, "response_id")
        response = self._responses.setdefault(response_id, _Response(response_id, now))
        response.calls.append(call_id)
        self._last_activity = now
        try:
            arguments = json.loads(_text(event, "arguments") or "{}")
            if not isinstance(arguments, dict):
                raise ValueError("arguments are not a JSON object")
        except ValueError as exc:
            self._calls[call_id] = _Call(name, {}, response_id, now, self._connection)
            bad = ToolCallResponse(ok=False, error=f"invalid arguments: {exc!s:.200}")
            return self.tool_finished(call_id, bad, now)
        self._calls[call_id] = _Call(name, arguments, response_id, now, self._connection)
        return [RunTool(call_id, name, arguments)]

    def _on_response_done(self, event: Mapping[str, Any], now: float) -> list[Action]:
        body = event["response"]
        response_id = _text(body, "id")
        status = str(body.get("status") or "completed")
        response = self._responses.setdefault(response_id, _Response(response_id, now))
        response.status = status
        self._last_activity = now
        if self._active == response_id:
            self._active = None
        self.facts.responses += 1
        if status == "cancelled":
            self.facts.cancelled_responses += 1
        self._add_usage(body.get("usage"))
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
            actions.append(self._send({"type": "response.create"}))
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
        return [self._send({"type": "response.create"})]

    def _add_usage(self, usage: Any) -> None:
        if not isinstance(usage, Mapping):
            return
        given = usage.get("input_token_details") or {}
        made = usage.get("output_token_details") or {}
        u = self.facts.usage
        self.facts.usage = TokenUsage(
            input_text_tokens=u.input_text_tokens + int(given.get("text_tokens") or 0),
            input_audio_tokens=u.input_audio_tokens + int(given.get("audio_tokens") or 0),
            input_cached_tokens=u.input_cached_tokens + int(given.get("cached_tokens") or 0),
            output_text_tokens=u.output_text_tokens + int(made.get("text_tokens") or 0),
            output_audio_tokens=u.output_audio_tokens + int(made.get("audio_tokens") or 0),
        )

    def _add_tool_turn(
        self, call_id: str, call: _Call, result: ToolCallResponse, now: float
    ) -> None:
        outcome = "ok" if result.ok else f"error: {result.error or 'the tool failed'}"
        text = f"{call.name}({json.dumps(call.arguments, ensure_ascii=False)}) → {outcome}"
        self._drafts[f"tool:{call_id}"] = _Draft("tool", call_id, call.started_at, text[:20_000])

    def _draft(self, role: Role, item_id: str, now: float) -> _Draft:
        draft = self._drafts.get(item_id)
        if draft is None:
            draft = self._drafts[item_id] = _Draft(role, item_id, now)
        return draft

    def _note_error(self, text: str) -> None:
        if len(self.facts.errors) < 100:
            self.facts.errors.append(redact(text)[:4000])

    def _send(self, event: dict[str, Any]) -> SendEvent:
        return SendEvent(str(event["type"]), json.dumps(event, ensure_ascii=False))

    def _end(self, reason: EndReason, detail: str, now: float) -> list[Action]:
        self.phase = Phase.ENDED
        self.facts.ended_by_itself = True
        self.facts.end_reason = reason
        self.facts.end_detail = redact(detail)
        self.facts.ended_at = self.facts.started_at + timedelta(seconds=now - self._t0)
        self.facts.turns = self._turns()
        return [SessionEnded(reason, self.facts.end_detail)]

    def _turns(self) -> list[Turn]:
        turns: list[Turn] = []
        for draft in self._drafts.values():
            if draft.role != "tool" and not draft.text and not draft.audio_ms:
                continue
            turns.append(
                Turn(
                    index=len(turns),
                    role=draft.role,
                    content=draft.text[:20_000],
                    item_id=draft.item_id[:200],
                    started_at=self.facts.started_at + timedelta(seconds=draft.at - self._t0),
                    audio_ms=draft.audio_ms,
                )
            )
        return turns

    def snapshot(self) -> RealtimeFacts:
        """The facts so far (turns included) without ending the session."""
        if self.phase is not Phase.ENDED:
            self.facts.turns = self._turns()
        return self.facts

    def awaiting_playback(self) -> list[str]:
        """Items whose first played sample the latency figures still wait for."""
        return list(self._awaiting_play)


def _text(event: Mapping[str, Any], key: str) -> str:
    value = event.get(key)
    if not isinstance(value, str):
        raise ProtocolViolation(f"{key!r} should be a string")
    return value


def _int(event: Mapping[str, Any], key: str) -> int:
    value = event.get(key)
    if not isinstance(value, int):
        raise ProtocolViolation(f"{key!r} should be an integer")
    return value
