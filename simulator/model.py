"""The simulated model: what it heard the member say and what it answers, from the script.

Protocol handling (session.py) asks: the member's speech was committed — what did they say,
and does this turn fail on purpose (:meth:`ScriptedModel.heard`)? The client created a
message of the member's (:meth:`ScriptedModel.replayed`: after a reconnect, the words the
lost connection never answered)? A response starts — what does JARVIS say or call
(:meth:`ScriptedModel.answer`)? A scripted turn with a tool is answered in two responses, as
a real model does: the call (with an optional phrase before it), then, once the client has
sent the output and asked again, the answer.

Like a real model, it answers only what is in the conversation it serves: a question heard
on a connection that then failed stays unanswered until a client puts it in front of it again
(as text or audio) and asks for a response.
"""

from __future__ import annotations

from collections.abc import Callable
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

    source: Script | Callable[[], Script]
    """The script, or how to choose it: then it is chosen the first time the conversation
    uses it, so a connection opened and never used (a warm one, replaced before anyone
    tapped) takes no script from the ones played in turn."""
    next_turn: int = 0
    faults_fired: set[int] = field(default_factory=set)
    greeted: bool = False
    """A greeting was spoken to the end."""
    unanswered: int | None = None
    """A turn heard on a connection that failed before answering it."""

    @property
    def script(self) -> Script:
        if not isinstance(self.source, Script):
            self.source = self.source()
        return self.source


@dataclass(frozen=True, slots=True)
class Heard:
    transcript: str
    fault: Fault | None = None
    """SERVER_ERROR: the session fails right after the words are transcribed; DISCONNECT:
    the connection drops halfway through the answer. Each fires once."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What a response produces: speech and calls, or a failure; ``drop_midway`` asks the
    session to lose the connection halfway through it."""

    parts: list[Part]
    failure: Failure | None = None
    drop_midway: bool = False


@dataclass
class _Turn:
    script: ScriptTurn | None
    index: int | None = None
    phase: str = "new"  # new → awaiting_tool → answered


class ScriptedModel:
    def __init__(self, progress: ScriptProgress, voice: Voice) -> None:
        self.progress = progress
        self.voice = voice
        self.said: list[tuple[str, str]] = []
        """(role, text) in the order the model heard and spoke them."""
        self._turn: _Turn | None = None
        self._greeting = False
        self._dropping = False

    def heard(self, duration_ms: int) -> Heard:
        """The member's speech was committed."""
        progress = self.progress
        index = progress.next_turn
        turns = progress.script.turns
        scripted = turns[index] if index < len(turns) else None
        fault = None
        if scripted is not None:
            progress.next_turn += 1
            transcript = scripted.member
            failing = scripted.fault in (Fault.DISCONNECT, Fault.SERVER_ERROR)
            if failing and index not in progress.faults_fired:
                progress.faults_fired.add(index)
                fault = scripted.fault
                self._dropping = fault is Fault.DISCONNECT
            progress.unanswered = index
        else:
            transcript = f"(speech not in the script, {duration_ms} ms)"
        self._turn = _Turn(scripted, index)
        self.said.append(("user", transcript))
        return Heard(transcript, fault)

    def replayed(self, text: str, has_audio: bool) -> None:
        """The client created a message of the member's: when it carries the words a failed
        connection never answered (their text, or audio), they are the turn to answer."""
        self.said.append(("user", text or "(audio)"))
        pending = self.progress.unanswered
        if pending is None:
            return
        scripted = self.progress.script.turns[pending]
        if has_audio or text.strip() == scripted.member:
            self._turn = _Turn(scripted, pending)

    def answer(self, session: dict[str, Any], member_spoke: bool) -> Answer:
        """What the response starting now produces."""
        turn = self._turn
        script = self.progress.script
        self._greeting = False
        if turn is None or turn.phase == "answered":
            self._greeting = not self.progress.greeted and not member_spoke
            text = script.greeting_text if self._greeting else script.fallback_text
            return Answer([self._speech(session, text)])
        drop, self._dropping = self._dropping, False
        scripted = turn.script
        if scripted is None:
            turn.phase = "answered"
            return Answer([self._speech(session, script.fallback_text)], drop_midway=drop)
        if scripted.fault is Fault.INSUFFICIENT_QUOTA:
            turn.phase = "answered"
            return Answer([], QUOTA)
        tool = scripted.tool
        if turn.phase == "new" and tool is not None and tool.name in tool_names(session):
            turn.phase = "awaiting_tool"
            parts: list[Part] = []
            if scripted.before_tool:
                parts.append(self._speech(session, scripted.before_tool))
            parts.append(CallPart(tool.name, arguments_json(tool.arguments)))
            return Answer(parts, drop_midway=drop)
        turn.phase = "answered"
        return Answer([self._speech(session, scripted.assistant)], drop_midway=drop)

    def response_finished(self, completed: bool) -> None:
        """The response :meth:`answer` planned is over; ``completed``: all of it was sent."""
        if not completed:
            return
        if self._greeting:
            self.progress.greeted = True
        turn = self._turn
        if turn is not None and turn.phase == "answered" and turn.index == self.progress.unanswered:
            self.progress.unanswered = None

    def _speech(self, session: dict[str, Any], text: str) -> SpeechPart:
        self.said.append(("assistant", text))
        return SpeechPart(text, self.voice.pcm(text) if speaks(session) else b"")
