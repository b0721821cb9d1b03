"""The simulated conversation: its items, and what re-reading them costs in tokens.

Rates follow what OpenAI bills for Realtime audio: about 10 tokens per second of member
audio and 20 per second of assistant audio; text is about 4 characters a token. Every
response re-reads the whole conversation (instructions, tools, every item), so a session's
input grows turn after turn; the prefix the previous response already read is reported as
cached once it reaches 1,024 tokens, in 64-token steps, as OpenAI's prompt cache does.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

USER_AUDIO_MS_PER_TOKEN = 100
ASSISTANT_AUDIO_MS_PER_TOKEN = 50
CHARS_PER_TOKEN = 4
CACHE_MIN_TOKENS = 1024
CACHE_STEP_TOKENS = 64


def text_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


def audio_tokens(ms: int, ms_per_token: int) -> int:
    return -(-ms // ms_per_token)


class Ids:
    """Ids shaped like OpenAI's (`item_…`, `resp_…`, `event_…`), unique per session."""

    def __init__(self) -> None:
        self._tag = secrets.token_hex(4).upper()
        self._count = 0

    def new(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_SIM{self._tag}{self._count:09d}"


ItemKind = Literal["user", "assistant", "system", "function_call", "function_call_output"]


@dataclass
class Item:
    """One conversation item as the simulator keeps it (audio as a duration, not bytes)."""

    id: str
    kind: ItemKind
    audio_ms: int = 0
    text: str = ""
    """Transcript of audio, or text content; for function items, arguments / output."""
    call_id: str | None = None
    name: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] = "completed"
    has_audio: bool = False

    def wire(self) -> dict[str, Any]:
        """The item as events carry it (no audio bytes, as OpenAI omits them)."""
        base: dict[str, Any] = {"id": self.id, "object": "realtime.item", "status": self.status}
        if self.kind == "function_call":
            return {
                **base,
                "type": "function_call",
                "call_id": self.call_id,
                "name": self.name,
                "arguments": self.text,
            }
        if self.kind == "function_call_output":
            return {
                **base,
                "type": "function_call_output",
                "call_id": self.call_id,
                "output": self.text,
            }
        content: list[dict[str, Any]]
        if self.kind == "user" and self.has_audio:
            content = [{"type": "input_audio", "transcript": None}]
        elif self.kind == "assistant" and self.has_audio:
            content = [{"type": "output_audio", "transcript": self.text}]
        elif self.kind == "assistant":
            content = [{"type": "output_text", "text": self.text}]
        else:
            content = [{"type": "input_text", "text": self.text}]
        return {**base, "type": "message", "role": self.kind, "content": content}

    def input_tokens(self) -> tuple[int, int]:
        """(text, audio) tokens this item costs each time a response re-reads it."""
        if self.kind == "user" and self.has_audio:
            return 0, audio_tokens(self.audio_ms, USER_AUDIO_MS_PER_TOKEN)
        if self.kind == "assistant" and self.has_audio:
            return 0, audio_tokens(self.audio_ms, ASSISTANT_AUDIO_MS_PER_TOKEN)
        return text_tokens(self.text) + 4, 0


@dataclass
class Conversation:
    items: dict[str, Item] = field(default_factory=dict)
    _last_input_tokens: int = 0

    @property
    def last_id(self) -> str | None:
        return next(reversed(self.items), None)

    def add(self, item: Item) -> str | None:
        """Append ``item``; returns the id of the item before it."""
        previous = self.last_id
        self.items[item.id] = item
        return previous

    def function_call(self, call_id: str) -> Item | None:
        for item in self.items.values():
            if item.kind == "function_call" and item.call_id == call_id:
                return item
        return None

    def has_assistant_audio(self) -> bool:
        return any(i.kind == "assistant" and i.has_audio for i in self.items.values())

    def input_usage(self, session: dict[str, Any]) -> dict[str, Any]:
        """What a response starting now reads: the session's text, then every item."""
        text = text_tokens(session.get("instructions") or "")
        text += text_tokens(json.dumps(session.get("tools") or []))
        audio = 0
        for item in self.items.values():
            item_text, item_audio = item.input_tokens()
            text += item_text
            audio += item_audio
        total = text + audio
        cached = 0
        if self._last_input_tokens >= CACHE_MIN_TOKENS:
            cached = min(self._last_input_tokens, total) // CACHE_STEP_TOKENS * CACHE_STEP_TOKENS
        self._last_input_tokens = total
        cached_text = min(cached, text)
        return {
            "input_tokens": total,
            "input_token_details": {
                "text_tokens": text,
                "audio_tokens": audio,
                "image_tokens": 0,
                "cached_tokens": cached,
                "cached_tokens_details": {
                    "text_tokens": cached_text,
                    "audio_tokens": cached - cached_text,
                    "image_tokens": 0,
                },
            },
        }
