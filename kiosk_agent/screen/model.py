"""What the kiosk's screen shows, sans-I/O: the agent's moves in, one JSON-able snapshot out.

The agent tells it what happens — its state, the member being served, the conversation's
progress, messages for members, the microphone's level — and every change bumps ``seq``, so
the page (fed by server-sent events) always shows the latest whole picture. Nothing here
awaits or reads a clock except through ``clock``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from contract.kiosk_api import MemberCard
from kiosk_agent.core.machine_io import AgentState

MAX_CAPTIONS = 6
"""Lines of the conversation kept on screen (older ones scroll away)."""


class Mode(StrEnum):
    """What the screen is about, in the member's eyes."""

    STARTING = "starting"
    UNPROVISIONED = "unprovisioned"
    OUT_OF_SERVICE = "out_of_service"
    OFFLINE = "offline"
    TAP = "tap"
    CHECKING = "checking"
    WELCOME = "welcome"
    LISTENING = "listening"
    SPEAKING = "speaking"
    GOODBYE = "goodbye"
    STOPPED = "stopped"


_BY_STATE: dict[AgentState, Mode] = {
    AgentState.STARTING: Mode.STARTING,
    AgentState.UNPROVISIONED: Mode.UNPROVISIONED,
    AgentState.OUT_OF_SERVICE: Mode.OUT_OF_SERVICE,
    AgentState.OFFLINE: Mode.OFFLINE,
    AgentState.IDLE: Mode.TAP,
    AgentState.MEMBER_CHECK: Mode.CHECKING,
    AgentState.STARTING_SESSION: Mode.WELCOME,
    AgentState.IN_SESSION: Mode.LISTENING,
    AgentState.CLOSING: Mode.GOODBYE,
    AgentState.STOPPED: Mode.STOPPED,
}
_AT_REST = frozenset({Mode.UNPROVISIONED, Mode.OUT_OF_SERVICE, Mode.OFFLINE, Mode.TAP})


@dataclass
class Caption:
    role: str
    """``member`` or ``jarvis``."""
    text: str
    final: bool


@dataclass
class ScreenModel:
    """See the module docstring. ``language`` is the kiosk's until a member is served."""

    language: str = "fr"
    simulate_badge: bool = False
    """Development: the page offers a "simulate badge" control."""
    kiosk: dict[str, str] | None = None
    clock: Callable[[], float] = time.time
    seq: int = 0
    mode: Mode = Mode.STARTING
    member: str | None = None
    member_language: str | None = None
    captions: list[Caption] = field(default_factory=list)
    message: dict[str, Any] | None = None
    level: float | None = None

    # -- what the agent says ----------------------------------------------------------------

    def agent_state(self, state: AgentState) -> None:
        mode = _BY_STATE[state]
        if mode in _AT_REST or mode is Mode.CHECKING:
            self.member = self.member_language = None
            self.captions = []
            self.level = None
        if mode is Mode.CHECKING:
            self.message = None  # a new tap: the last refusal is no longer news
        if mode is Mode.LISTENING and self.mode is Mode.SPEAKING:
            return  # in session already: the conversation says what is happening
        self.mode = mode
        self._changed()

    def serving(self, member: MemberCard) -> None:
        """A member's session is starting: greet them by their first name."""
        self.member = member.first_name
        self.member_language = member.language
        self.mode = Mode.WELCOME
        self._changed()

    def conversation(self, kind: str, detail: str = "") -> None:
        """A :class:`~kiosk_agent.core.conversation.ConversationProgress`."""
        if kind == "listening":
            self.mode = Mode.LISTENING
        elif kind == "speaking":
            self.mode, self.level = Mode.SPEAKING, None
        elif kind in ("heard", "hearing"):
            self._caption("member", detail, final=kind == "heard")
        elif kind in ("said", "saying"):
            self._caption("jarvis", detail, final=kind == "said")
        else:
            return
        self._changed()

    def announce(self, notice: str, text: str, language: str) -> None:
        """A message for the member (a refusal, the kiosk offline...)."""
        self.message = {"notice": notice, "text": text, "language": language, "at": self.clock()}
        self._changed()

    def microphone(self, level: float | None) -> bool:
        """The microphone's level (0–1) while listening; True when the screen should hear of
        it (only while listening)."""
        if self.mode is not Mode.LISTENING:
            return False
        self.level = level
        return True

    def identity(self, kiosk: dict[str, str] | None, language: str | None = None) -> None:
        """The kiosk's name and gym (None: not provisioned), its default language."""
        self.kiosk = kiosk
        if language:
            self.language = language
        self._changed()

    # -- what the page gets -----------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "mode": self.mode.value,
            "language": self.member_language or self.language,
            "member": self.member,
            "captions": [c.__dict__ for c in self.captions],
            "message": self.message,
            "kiosk": self.kiosk,
            "simulate_badge": self.simulate_badge,
        }

    def _caption(self, role: str, text: str, *, final: bool) -> None:
        if not text:
            return
        last = self.captions[-1] if self.captions else None
        if last is not None and last.role == role and not last.final:
            last.text, last.final = text, final  # the same line, growing
        else:
            self.captions.append(Caption(role, text, final))
            del self.captions[:-MAX_CAPTIONS]

    def _changed(self) -> None:
        self.seq += 1
