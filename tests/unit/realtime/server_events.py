"""GA server events as OpenAI sends them, for driving the kiosk's Realtime core by hand.

Every builder's output is checked against the openai SDK's own server event models
(test_server_events_match_the_sdk), so the sequences the core tests feed are real shapes.
"""

from __future__ import annotations

import base64
import itertools
from typing import Any

Event = dict[str, Any]
BYTES_PER_MS = 48


def pcm(ms: int, level: int = 3000) -> bytes:
    """``ms`` of a square wave at 24 kHz (audible: an energy VAD hears it)."""
    samples = ms * 24
    one = level.to_bytes(2, "little", signed=True)
    other = (-level).to_bytes(2, "little", signed=True)
    return b"".join(one if (i // 24) % 2 else other for i in range(samples))


def usage(
    *, text_in: int = 0, audio_in: int = 0, cached: int = 0, text_out: int = 0, audio_out: int = 0
) -> Event:
    return {
        "total_tokens": text_in + audio_in + text_out + audio_out,
        "input_tokens": text_in + audio_in,
        "output_tokens": text_out + audio_out,
        "input_token_details": {
            "text_tokens": text_in,
            "audio_tokens": audio_in,
            "image_tokens": 0,
            "cached_tokens": cached,
        },
        "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
    }


class Server:
    """Builds one session's server events with unique event ids."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def event(self, kind: str, **fields: Any) -> Event:
        return {"type": kind, "event_id": f"event_{next(self._ids)}", **fields}

    # -- session
    def session_created(self) -> Event:
        return self.event(
            "session.created",
            session={"type": "realtime", "id": "sess_1", "object": "realtime.session"},
        )

    def session_updated(self) -> Event:
        return self.event(
            "session.updated",
            session={"type": "realtime", "id": "sess_1", "object": "realtime.session"},
        )

    # -- input
    def speech_started(self, item: str, audio_start_ms: int = 0) -> Event:
        return self.event(
            "input_audio_buffer.speech_started", item_id=item, audio_start_ms=audio_start_ms
        )

    def speech_stopped(self, item: str, audio_end_ms: int) -> Event:
        return self.event(
            "input_audio_buffer.speech_stopped", item_id=item, audio_end_ms=audio_end_ms
        )

    def committed(self, item: str, previous: str | None = None) -> Event:
        return self.event("input_audio_buffer.committed", item_id=item, previous_item_id=previous)

    def transcription(self, item: str, text: str, tokens: int = 10) -> Event:
        return self.event(
            "conversation.item.input_audio_transcription.completed",
            item_id=item,
            content_index=0,
            transcript=text,
            usage={
                "type": "tokens",
                "input_tokens": tokens,
                "output_tokens": 2,
                "total_tokens": tokens + 2,
            },
        )

    # -- responses
    def response(self, resp: str, status: str = "in_progress", **extra: Any) -> Event:
        return {
            "id": resp,
            "object": "realtime.response",
            "status": status,
            "output": [],
            "status_details": None,
            "usage": None,
            **extra,
        }

    def response_created(self, resp: str) -> Event:
        return self.event("response.created", response=self.response(resp))

    def message_added(self, resp: str, item: str) -> Event:
        return self.event(
            "response.output_item.added",
            response_id=resp,
            output_index=0,
            item={
                "id": item,
                "type": "message",
                "role": "assistant",
                "status": "in_progress",
                "content": [],
            },
        )

    def audio_delta(self, resp: str, item: str, ms: int) -> Event:
        return self.event(
            "response.output_audio.delta",
            response_id=resp,
            item_id=item,
            output_index=0,
            content_index=0,
            delta=base64.b64encode(pcm(ms)).decode(),
        )

    def audio_done(self, resp: str, item: str) -> Event:
        return self.event(
            "response.output_audio.done",
            response_id=resp,
            item_id=item,
            output_index=0,
            content_index=0,
        )

    def transcript_delta(self, resp: str, item: str, text: str) -> Event:
        return self.event(
            "response.output_audio_transcript.delta",
            response_id=resp,
            item_id=item,
            output_index=0,
            content_index=0,
            delta=text,
        )

    def transcript_done(self, resp: str, item: str, text: str) -> Event:
        return self.event(
            "response.output_audio_transcript.done",
            response_id=resp,
            item_id=item,
            output_index=0,
            content_index=0,
            transcript=text,
        )

    def arguments_done(
        self, resp: str, item: str, call_id: str, name: str, arguments: str
    ) -> Event:
        return self.event(
            "response.function_call_arguments.done",
            response_id=resp,
            item_id=item,
            output_index=1,
            call_id=call_id,
            name=name,
            arguments=arguments,
        )

    def response_done(
        self,
        resp: str,
        status: str = "completed",
        used: Event | None = None,
        details: Event | None = None,
    ) -> Event:
        body = self.response(resp, status)
        body["usage"] = used if used is not None else usage()
        body["status_details"] = details
        return self.event("response.done", response=body)

    def failed(self, resp: str, code: str) -> Event:
        return self.response_done(
            resp,
            "failed",
            details={"type": "failed", "error": {"type": code, "code": code, "message": "nope"}},
        )

    def truncated(self, item: str, audio_end_ms: int) -> Event:
        return self.event(
            "conversation.item.truncated", item_id=item, content_index=0, audio_end_ms=audio_end_ms
        )

    def rate_limits(self) -> Event:
        return self.event(
            "rate_limits.updated",
            rate_limits=[{"name": "requests", "limit": 100, "remaining": 99, "reset_seconds": 1.0}],
        )

    def error(
        self,
        code: str,
        message: str = "something",
        kind: str = "invalid_request_error",
        event_id: str | None = None,
    ) -> Event:
        return self.event(
            "error",
            error={
                "type": kind,
                "code": code,
                "message": message,
                "param": None,
                "event_id": event_id,
            },
        )

    def calls(
        self, resp: str, *calls: tuple[str, str, str], done: str | None = "completed"
    ) -> list[Event]:
        """A response calling tools, given as (call_id, name, arguments); `done`: its final
        status, or None while it is still in progress."""
        events = [self.response_created(resp)]
        for n, (call_id, name, arguments) in enumerate(calls):
            events.append(
                self.arguments_done(resp, f"item_{call_id}_{n}", call_id, name, arguments)
            )
        if done is not None:
            events.append(self.response_done(resp, done))
        return events

    def spoken_answer(
        self, resp: str, item: str, text: str, ms: int, chunk_ms: int = 100
    ) -> list[Event]:
        """A whole audio answer: created, item, audio in chunks, transcript, done."""
        events = [
            self.response_created(resp),
            self.message_added(resp, item),
            self.transcript_delta(resp, item, text),
        ]
        for start in range(0, ms, chunk_ms):
            events.append(self.audio_delta(resp, item, min(chunk_ms, ms - start)))
        events += [
            self.audio_done(resp, item),
            self.transcript_done(resp, item, text),
            self.response_done(
                resp, used=usage(text_in=20, audio_out=ms // 50, text_out=len(text) // 4)
            ),
        ]
        return events
