"""The conversation as the member heard it: one draft per item (the member's speech, JARVIS's
answers, tool calls), turned into the session record's turns, and replayed after a reconnect
so JARVIS keeps its context."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from contract.kiosk_api import ToolCallResponse, Turn
from kiosk_agent.core.realtime.actions import Action, send
from kiosk_agent.core.realtime.latency import TurnLatency

_REPLAYED_TURNS = 20

Role = Literal["user", "assistant", "tool"]


@dataclass(slots=True)
class Draft:
    role: Role
    item_id: str
    at: float
    text: str = ""
    audio_ms: int | None = None
    audio_start_ms: int | None = None
    audio_end_ms: int | None = None
    complete: bool = False
    """The member's words were transcribed / all of JARVIS's answer arrived."""
    pcm: bytes | None = None
    """The member's words as sent, kept until they are transcribed (to replay them)."""
    interrupted: bool = False
    """JARVIS's audio was cut short (barge-in, or the connection dropped)."""


class Transcript:
    def __init__(self) -> None:
        self.drafts: dict[str, Draft] = {}

    def draft(self, role: Role, item_id: str, now: float) -> Draft:
        draft = self.drafts.get(item_id)
        if draft is None:
            draft = self.drafts[item_id] = Draft(role, item_id, now)
        return draft

    def add_tool_turn(
        self,
        call_id: str,
        name: str,
        arguments: dict[str, Any],
        started_at: float,
        result: ToolCallResponse,
    ) -> None:
        outcome = "ok" if result.ok else f"error: {result.error or 'the tool failed'}"
        text = f"{name}({json.dumps(arguments, ensure_ascii=False)}) → {outcome}"
        self.drafts[f"tool:{call_id}"] = Draft("tool", call_id, started_at, text[:20_000])

    def replay(self) -> list[Action]:
        """The conversation so far for a new connection: the last turns as text, the member's
        words that were never transcribed as their audio; JARVIS's answers that did not all
        arrive are left out (they will be asked for again)."""
        actions: list[Action] = []
        replayed = [d for d in self.drafts.values() if _replayable(d)]
        for draft in replayed[-_REPLAYED_TURNS:]:
            content: dict[str, Any]
            if draft.role == "assistant":
                content = {"type": "output_text", "text": draft.text}
            elif draft.text:
                content = {"type": "input_text", "text": draft.text}
            else:
                assert draft.pcm is not None
                content = {"type": "input_audio", "audio": base64.b64encode(draft.pcm).decode()}
            item = {"type": "message", "role": draft.role, "content": [content]}
            actions.append(send({"type": "conversation.item.create", "item": item}))
        return actions

    def turns(
        self, started_at: datetime, t0: float, latencies: list[TurnLatency] | None = None
    ) -> list[Turn]:
        """The turns so far; ``t0`` is the adapter's clock at ``started_at``. Answers carry
        their figures from ``latencies``."""
        answers = {t.answer_item_id: t for t in latencies or [] if t.answer_item_id}
        turns: list[Turn] = []
        for draft in self.drafts.values():
            if draft.role != "tool" and not draft.text and not draft.audio_ms:
                continue
            answer = answers.get(draft.item_id) if draft.role == "assistant" else None
            turns.append(
                Turn(
                    index=len(turns),
                    role=draft.role,
                    content=draft.text[:20_000],
                    item_id=draft.item_id[:200],
                    started_at=started_at + timedelta(seconds=draft.at - t0),
                    audio_ms=draft.audio_ms,
                    response_ms=answer.response_ms if answer else None,
                    playback_ms=answer.playback_ms if answer else None,
                    interrupted=draft.interrupted if draft.role == "assistant" else None,
                    after_reconnect=answer.after_reconnect if answer else None,
                )
            )
        return turns


def _replayable(draft: Draft) -> bool:
    if draft.role == "assistant":
        return draft.complete and bool(draft.text)
    if draft.role == "user":
        return bool(draft.text) or bool(draft.pcm)
    return False
