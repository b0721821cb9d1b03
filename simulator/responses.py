"""One simulated model response: planned outputs streamed as timed GA events, cancellable.

A response is planned whole when it starts (speech and function calls from the script),
then released step by step: the model "thinks" for `response_delay_ms`, then produces audio
`generation_speed` times faster than real time (0: all at once, as fast as the socket goes),
in `chunk_ms` deltas with the words of the transcript spread over them. Cancelling (by the
client or by the VAD when the member speaks) drops what was not yet produced, closes the
open item as `incomplete` and bills only what was produced.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.conversation import (
    ASSISTANT_AUDIO_MS_PER_TOKEN,
    Conversation,
    Ids,
    Item,
    audio_tokens,
    text_tokens,
)
from simulator.voice import BYTES_PER_MS

Event = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Pacing:
    response_delay_ms: int = 0
    """Simulated model latency before the first output of a response."""
    generation_speed: float = 0.0
    """Audio seconds generated per wall-clock second; 0 releases a response at once."""
    chunk_ms: int = 100
    """Audio per `response.output_audio.delta`."""


@dataclass(frozen=True, slots=True)
class SpeechPart:
    text: str
    pcm: bytes


@dataclass(frozen=True, slots=True)
class CallPart:
    name: str
    arguments: str


Part = SpeechPart | CallPart


@dataclass(frozen=True, slots=True)
class Failure:
    type: str
    code: str
    message: str


class ResponseStream:
    def __init__(
        self,
        *,
        parts: list[Part],
        conversation: Conversation,
        session: dict[str, Any],
        ids: Ids,
        pacing: Pacing,
        now: float,
        failure: Failure | None = None,
        drop_midway: bool = False,
    ) -> None:
        self.id = ids.new("resp")
        self._conversation = conversation
        self._ids = ids
        self._audio = "audio" in (session.get("output_modalities") or ["audio"])
        self._voice = session.get("audio", {}).get("output", {}).get("voice", "alloy")
        self._modalities = ["audio"] if self._audio else ["text"]
        self._input_usage = conversation.input_usage(session)
        self._steps: deque[tuple[float, Callable[[], list[Event]]]] = deque()
        self._output: list[Item] = []
        self._open: tuple[Item, int] | None = None
        self._out_audio_ms = 0
        self._out_text_tokens = 0
        self.calls: list[Item] = []
        """Function calls emitted so far."""
        self.done = False
        self.dropped = False
        """The connection must drop now (a scripted fault): nothing more is produced."""
        self.status = "in_progress"
        self.created: list[Event] = [{"type": "response.created", "response": self._wire()}]
        self._drop_pending = drop_midway
        if failure is not None:
            self._steps.append((now, lambda: self._finish("failed", failure=failure)))
            return
        due = now + pacing.response_delay_ms / 1000
        for index, part in enumerate(parts):
            due = self._plan(index, part, due, pacing)
        if self._drop_pending:  # nothing was spoken: drop before the response is done
            self._steps.append((due, self._drop))
        self._steps.append((due, lambda: self._finish("completed")))

    # ------------------------------------------------------------------ stepping

    def next_due(self) -> float | None:
        return self._steps[0][0] if self._steps else None

    def step(self, now: float) -> list[Event]:
        """Events of every step due by ``now`` (none after a drop)."""
        events: list[Event] = []
        while self._steps and self._steps[0][0] <= now and not self.dropped:
            _, produce = self._steps.popleft()
            events.extend(produce())
        return events

    def _drop(self) -> list[Event]:
        self.dropped = True
        self._steps.clear()
        return []

    def cancel(self, reason: str) -> list[Event]:
        """Stop now: close the open item as incomplete and report `cancelled`."""
        self._steps.clear()
        events: list[Event] = []
        if self._open is not None:
            events.extend(self._close_speech(*self._open, "incomplete"))
        return events + self._finish("cancelled", reason=reason)

    # ------------------------------------------------------------------ planning

    def _plan(self, index: int, part: Part, due: float, pacing: Pacing) -> float:
        if isinstance(part, CallPart):
            self._steps.append((due, lambda: self._call(index, part)))
            return due
        item = Item(
            id=self._ids.new("item"), kind="assistant", has_audio=self._audio, status="in_progress"
        )
        self._steps.append((due, lambda: self._open_speech(item, index)))
        chunk_bytes = pacing.chunk_ms * BYTES_PER_MS
        chunks = max(1, -(-len(part.pcm) // chunk_bytes))
        words = part.text.split()
        per_chunk = (
            pacing.chunk_ms / 1000 / pacing.generation_speed if pacing.generation_speed else 0
        )
        # A scripted drop comes halfway through the first thing said (after its first chunk).
        drop_at = max(1, chunks // 2) if self._drop_pending else None
        self._drop_pending = False
        for n in range(chunks):
            if n == drop_at:
                self._steps.append((due, self._drop))
            pcm = part.pcm[n * chunk_bytes : (n + 1) * chunk_bytes]
            piece = " ".join(words[n * len(words) // chunks : (n + 1) * len(words) // chunks])
            self._steps.append((due, self._chunk_step(item, index, pcm, piece)))
            due += per_chunk
        if drop_at == chunks:
            self._steps.append((due, self._drop))
        self._steps.append((due, lambda: self._close_speech(item, index, "completed")))
        return due

    def _chunk_step(
        self, item: Item, index: int, pcm: bytes, piece: str
    ) -> Callable[[], list[Event]]:
        return lambda: self._speak(item, index, pcm, piece)

    # ------------------------------------------------------------------ producing

    def _where(self, item: Item, index: int) -> Event:
        return {"response_id": self.id, "item_id": item.id, "output_index": index}

    def _open_speech(self, item: Item, index: int) -> list[Event]:
        self._open = (item, index)
        self._output.append(item)
        previous = self._conversation.add(item)
        part = {"type": "audio", "transcript": ""} if self._audio else {"type": "text", "text": ""}
        return [
            {
                "type": "response.output_item.added",
                "response_id": self.id,
                "output_index": index,
                "item": item.wire(),
            },
            {"type": "conversation.item.added", "previous_item_id": previous, "item": item.wire()},
            {
                "type": "response.content_part.added",
                **self._where(item, index),
                "content_index": 0,
                "part": part,
            },
        ]

    def _speak(self, item: Item, index: int, pcm: bytes, piece: str) -> list[Event]:
        if piece and item.text:
            piece = " " + piece
        item.text += piece
        where = {**self._where(item, index), "content_index": 0}
        if not self._audio:
            return [{"type": "response.output_text.delta", **where, "delta": piece}]
        ms = len(pcm) // BYTES_PER_MS
        item.audio_ms += ms
        self._out_audio_ms += ms
        events: list[Event] = []
        if piece:
            events.append(
                {"type": "response.output_audio_transcript.delta", **where, "delta": piece}
            )
        events.append(
            {
                "type": "response.output_audio.delta",
                **where,
                "delta": base64.b64encode(pcm).decode("ascii"),
            }
        )
        return events

    def _close_speech(self, item: Item, index: int, status: str) -> list[Event]:
        self._open = None
        item.status = "completed" if status == "completed" else "incomplete"
        self._out_text_tokens += text_tokens(item.text)
        where = {**self._where(item, index), "content_index": 0}
        if self._audio:
            events: list[Event] = [
                {"type": "response.output_audio.done", **where},
                {"type": "response.output_audio_transcript.done", **where, "transcript": item.text},
            ]
            part: Event = {"type": "audio", "transcript": item.text}
        else:
            events = [{"type": "response.output_text.done", **where, "text": item.text}]
            part = {"type": "text", "text": item.text}
        return [
            *events,
            {"type": "response.content_part.done", **where, "part": part},
            {
                "type": "response.output_item.done",
                "response_id": self.id,
                "output_index": index,
                "item": item.wire(),
            },
            {"type": "conversation.item.done", "item": item.wire()},
        ]

    def _call(self, index: int, part: CallPart) -> list[Event]:
        item = Item(
            id=self._ids.new("item"),
            kind="function_call",
            text="",
            call_id="call_" + secrets.token_hex(8),
            name=part.name,
            status="in_progress",
        )
        previous = self._conversation.add(item)
        self._output.append(item)
        self.calls.append(item)
        added: list[Event] = [
            {
                "type": "response.output_item.added",
                "response_id": self.id,
                "output_index": index,
                "item": item.wire(),
            },
            {"type": "conversation.item.added", "previous_item_id": previous, "item": item.wire()},
        ]
        item.text = part.arguments
        item.status = "completed"
        self._out_text_tokens += text_tokens(part.arguments)
        where: Event = {**self._where(item, index), "call_id": item.call_id}
        return [
            *added,
            {"type": "response.function_call_arguments.delta", **where, "delta": part.arguments},
            {
                "type": "response.function_call_arguments.done",
                **where,
                "name": part.name,
                "arguments": part.arguments,
            },
            {
                "type": "response.output_item.done",
                "response_id": self.id,
                "output_index": index,
                "item": item.wire(),
            },
            {"type": "conversation.item.done", "item": item.wire()},
        ]

    def _finish(
        self, status: str, *, reason: str | None = None, failure: Failure | None = None
    ) -> list[Event]:
        self.done = True
        self.status = status
        details: Event | None = None
        if status == "cancelled":
            details = {"type": "cancelled", "reason": reason}
        elif failure is not None:
            details = {
                "type": "failed",
                "error": {"type": failure.type, "code": failure.code, "message": failure.message},
            }
        response = self._wire()
        response["status_details"] = details
        response["usage"] = self._usage(billed=failure is None)
        return [{"type": "response.done", "response": response}]

    def _usage(self, *, billed: bool) -> Event:
        out_audio = audio_tokens(self._out_audio_ms, ASSISTANT_AUDIO_MS_PER_TOKEN)
        output = out_audio + self._out_text_tokens
        if not billed:
            zero = {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0, "cached_tokens": 0}
            return {
                "total_tokens": 0,
                "input_tokens": 0,
                "output_tokens": 0,
                "input_token_details": zero,
                "output_token_details": {"text_tokens": 0, "audio_tokens": 0},
            }
        return {
            "total_tokens": self._input_usage["input_tokens"] + output,
            **self._input_usage,
            "output_tokens": output,
            "output_token_details": {
                "text_tokens": self._out_text_tokens,
                "audio_tokens": out_audio,
            },
        }

    def _wire(self) -> Event:
        return {
            "id": self.id,
            "object": "realtime.response",
            "status": self.status,
            "status_details": None,
            "output": [item.wire() for item in self._output],
            "conversation_id": "conv_simulated",
            "output_modalities": self._modalities,
            "max_output_tokens": "inf",
            "audio": {
                "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": self._voice}
            },
            "usage": None,
            "metadata": None,
        }


def arguments_json(arguments: dict[str, Any]) -> str:
    return json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
