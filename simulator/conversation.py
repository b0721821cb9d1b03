"""The simulated conversation: its items, and what re-reading them costs in tokens.

Rates follow what OpenAI bills for Realtime audio: about 10 tokens per second of member
audio and 20 per second of assistant audio; text is about 4 characters a token. Every
response re-reads the whole conversation (instructions, tools, every item), so a session's
input grows turn after turn; the prefix the previous response already read is reported as
cached once it reaches 1,024 tokens, in 64-token steps, as OpenAI's prompt cache does.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

from simulator.errors import Refused

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

    def get(self, item_id: Any) -> Item:
        item = self.items.get(item_id) if isinstance(item_id, str) else None
        if item is None:
            raise Refused("invalid_value", f"Item with item_id not found: {item_id}", "item_id")
        return item

    def truncate(self, item: Item, content_index: Any, audio_end_ms: int) -> None:
        """Cut an assistant item's audio at ``audio_end_ms``, as OpenAI allows it: only
        assistant audio, only content 0, never at 0 nor past the end."""
        if item.kind != "assistant" or not item.has_audio:
            raise Refused(
                "invalid_value", "Only assistant messages with audio can be truncated.", "item_id"
            )
        if content_index != 0:
            raise Refused("invalid_value", "Invalid 'content_index': set it to 0.", "content_index")
        if audio_end_ms <= 0:
            raise Refused(
                "invalid_value",
                "Invalid 'audio_end_ms': it must be greater than 0.",
                "audio_end_ms",
            )
        if audio_end_ms > item.audio_ms:
            raise Refused(
                "invalid_value",
                f"Audio content of {item.audio_ms}ms is already shorter than {audio_end_ms}ms",
                "audio_end_ms",
            )
        item.audio_ms = audio_end_ms
        item.text = ""  # OpenAI drops the transcript the member may not have heard

    def item_from_client(self, raw: Any, ids: Ids) -> Item:
        """An item a client creates with `conversation.item.create`, validated."""
        if not isinstance(raw, dict):
            raise Refused(
                "missing_required_parameter", "Missing required parameter: 'item'.", "item"
            )
        kind = raw.get("type")
        given = raw.get("id")
        item_id = given if isinstance(given, str) else ids.new("item")
        if item_id in self.items:
            raise Refused(
                "duplicate_item_id", f"Item with id '{item_id}' already exists.", "item.id"
            )
        if kind == "function_call_output":
            call_id, output = raw.get("call_id"), raw.get("output")
            if not isinstance(call_id, str) or not isinstance(output, str):
                raise Refused(
                    "missing_required_parameter",
                    "A function_call_output item needs 'call_id' and 'output' strings.",
                    "item",
                )
            if self.function_call(call_id) is None:
                raise Refused(
                    "invalid_tool_call_id",
                    f"Tool call ID '{call_id}' not found in conversation.",
                    "item.call_id",
                )
            return Item(id=item_id, kind="function_call_output", call_id=call_id, text=output)
        if kind == "function_call":
            name, arguments = raw.get("name"), raw.get("arguments", "")
            if not isinstance(name, str) or not isinstance(arguments, str):
                raise Refused(
                    "invalid_value",
                    "A function_call item needs 'name' and 'arguments' strings.",
                    "item",
                )
            call_id = str(raw.get("call_id") or "call_" + item_id)
            return Item(
                id=item_id, kind="function_call", name=name, text=arguments, call_id=call_id
            )
        if kind == "message":
            role, content = raw.get("role"), raw.get("content")
            if role not in ("user", "assistant", "system") or not isinstance(content, list):
                raise Refused(
                    "invalid_value",
                    "A message item needs a role (user, assistant, system) and a content list.",
                    "item",
                )
            texts, audio_ms = _message_content(role, content)
            return Item(
                id=item_id,
                kind=role,
                text=" ".join(texts),
                audio_ms=audio_ms,
                has_audio=audio_ms > 0,
            )
        raise Refused(
            "invalid_value",
            f"Invalid value: '{kind}'. Supported values are: "
            "'message', 'function_call', 'function_call_output'.",
            "item.type",
        )

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


_CONTENT_TYPES = {
    "user": ("input_text", "input_audio"),
    "system": ("input_text",),
    "assistant": ("output_text", "output_audio"),
}


def _message_content(role: str, content: list[Any]) -> tuple[list[str], int]:
    """The texts and the milliseconds of audio of a client's message, checked as OpenAI
    checks them: each role takes its own content types; audio is base64 PCM16."""
    texts: list[str] = []
    audio_ms = 0
    allowed = _CONTENT_TYPES[role]
    for index, part in enumerate(content):
        param = f"item.content[{index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in allowed:
            supported = " and ".join(f"'{t}'" for t in allowed)
            raise Refused(
                "invalid_value",
                f"Invalid value: '{kind}'. Supported values are: {supported}.",
                f"{param}.type",
            )
        assert isinstance(part, dict)
        if kind.endswith("_text"):
            text = part.get("text")
            if not isinstance(text, str):
                raise Refused(
                    "missing_required_parameter",
                    f"Missing required parameter: '{param}.text'.",
                    f"{param}.text",
                )
            texts.append(text)
            continue
        audio = part.get("audio")
        try:
            pcm = base64.b64decode(audio, validate=True) if isinstance(audio, str) else b""
        except (binascii.Error, ValueError):
            pcm = b""
        if not pcm or len(pcm) % 2:
            raise Refused(
                "invalid_value",
                f"Invalid '{param}.audio': expected base64-encoded PCM16 audio.",
                f"{param}.audio",
            )
        audio_ms += len(pcm) // 48
        transcript = part.get("transcript")
        if isinstance(transcript, str):
            texts.append(transcript)
    return texts, audio_ms
