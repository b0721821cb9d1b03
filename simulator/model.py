"""The simulated model: what it heard the member say and what it answers, from the script.

Protocol handling (session.py) asks two questions: the member's speech was committed — what
did they say, and does this turn fail on purpose (:meth:`ScriptedModel.heard`)? A response
starts — what does JARVIS say or call (:meth:`ScriptedModel.answer`)? A scripted turn with a
tool is answered in two responses, as a real model does: the call (with an optional phrase
before it), then, once the client has sent the output and asked again, the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simulator.config import speaks, tool_names
from simulator.responses import CallPart, Failure, Part, SpeechPart, arguments_json
from simulator.script import Fault, Script, ScriptTurn
from simulator.voice import Voice

QUOTA = Failure(
    "insufficient_quota",
    "insufficient_quota",
    "You exceeded your current quota, please check your plan and billing details.",
)


@dataclass
class ScriptProgress:
    """Where a conversation is in its script; shared by the sessions of one client secret,
    so a client that reconnects carries on where it was instead of starting over."""

    script: Script
    next_turn: int = 0
    faults_fired: set[int] = field(default_factory=set)
    greeted: bool = False


@dataclass(frozen=True, slots=True)
class Heard:
    transcript: str
    fault: Fault | None = None
    """DISCONNECT or SERVER_ERROR: the session must fail now, once (the turn stays due)."""


@dataclass
class _Turn:
    script: ScriptTurn | None
    phase: str = "new"  # new → awaiting_tool → answered


class ScriptedModel:
    def __init__(self, progress: ScriptProgress, voice: Voice) -> None:
        self.progress = progress
        self.voice = voice
        self.said: list[tuple[str, str]] = []
        """(role, text) in the order the model heard and spoke them."""
        self._turn: _Turn | None = None

    def heard(self, duration_ms: int) -> Heard:
        """The member's speech was committed."""
        progress = self.progress
        index = progress.next_turn
        turns = progress.script.turns
        scripted = turns[index] if index < len(turns) else None
        failing = scripted is not None and scripted.fault in (Fault.DISCONNECT, Fault.SERVER_ERROR)
        if scripted is not None and failing and index not in progress.faults_fired:
            progress.faults_fired.add(index)
            return Heard(scripted.member, scripted.fault)
        if scripted is not None:
            progress.next_turn += 1
            transcript = scripted.member
        else:
            transcript = f"(speech not in the script, {duration_ms} ms)"
        self._turn = _Turn(scripted)
        self.said.append(("user", transcript))
        return Heard(transcript)

    def answer(
        self, session: dict[str, Any], member_spoke: bool
    ) -> tuple[list[Part], Failure | None]:
        """What the response starting now produces."""
        turn = self._turn
        script = self.progress.script
        if turn is None or turn.phase == "answered":
            first = not self.progress.greeted and not member_spoke
            self.progress.greeted = True
            return [
                self._speech(session, script.greeting_text if first else script.fallback_text)
            ], None
        scripted = turn.script
        if scripted is None:
            turn.phase = "answered"
            return [self._speech(session, script.fallback_text)], None
        if scripted.fault is Fault.INSUFFICIENT_QUOTA:
            turn.phase = "answered"
            return [], QUOTA
        tool = scripted.tool
        if turn.phase == "new" and tool is not None and tool.name in tool_names(session):
            turn.phase = "awaiting_tool"
            parts: list[Part] = []
            if scripted.before_tool:
                parts.append(self._speech(session, scripted.before_tool))
            parts.append(CallPart(tool.name, arguments_json(tool.arguments)))
            return parts, None
        turn.phase = "answered"
        return [self._speech(session, scripted.assistant)], None

    def _speech(self, session: dict[str, Any], text: str) -> SpeechPart:
        self.said.append(("assistant", text))
        return SpeechPart(text, self.voice.pcm(text) if speaks(session) else b"")
