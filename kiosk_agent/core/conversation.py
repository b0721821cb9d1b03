"""The seam between the kiosk's session lifecycle and the voice conversation itself.

The agent's state machine owns a session's life: member check, voice start with the cloud,
the conversation, closing, and the session record written to the outbox before any upload.
What happens *inside* the conversation (OpenAI Realtime over a websocket, audio, tools,
barge-in) lives behind the small :class:`Conversation` protocol below, so the agent depends on
nothing else and the implementation can be swapped (the real one, or none at all).

An implementation plugs in from ``kiosk_agent.adapters.realtime`` by exposing::

    def conversation_factory(settings: KioskSettings) -> ConversationFactory: ...

and the composition root (``kiosk_agent.app``) uses it when present. When it is absent the
agent still runs: sessions the cloud agreed to start are recorded honestly, with no turns and
``end_reason = realtime_error`` saying no conversation is installed.

Life of one conversation, as the agent drives it::

    conversation = factory(session_id, member, tools)
    await conversation.start(voice_start_response)   # raises ConversationError if it cannot
    async for event in conversation.events():        # ends after ConversationFinished
        ...
    facts = await conversation.end(reason)           # always called, exactly once

``end`` is called both when the conversation finished by itself (with the reason it gave) and
when the agent ends it (a new badge, the maximum duration, shutdown); it must close
politely (a short goodbye is welcome) within ``session.end_grace_s`` seconds, after which the
agent cancels it and records :meth:`Conversation.facts` as they stand.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

from contract.kiosk_api import (
    EndReason,
    KioskConfig,
    Latency,
    MemberCard,
    Reconnection,
    ToolCallRecord,
    ToolCallRequest,
    ToolCallResponse,
    Turn,
    VoiceStandbyResponse,
    VoiceStartResponse,
)
from contract.pricing import TokenUsage, TranscriptionUsage


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """What a conversation knows about itself when it ends: the session record's content."""

    turns: tuple[Turn, ...] = ()
    tool_calls: tuple[ToolCallRecord, ...] = ()
    usage: TokenUsage = field(default_factory=TokenUsage)
    """Summed over the session's ``response.done`` events (cancelled responses included)."""
    transcription: TranscriptionUsage = field(default_factory=TranscriptionUsage)
    """The member's words transcribed (priced at the transcription model's rates)."""
    latency: Latency = field(default_factory=Latency)
    reconnects: tuple[Reconnection, ...] = ()
    """Realtime connections lost and retried during the conversation."""
    greeting_played_at: float | None = None
    """``time.monotonic()`` when the greeting's first sample reached the speaker (the tap →
    greeting figure is measured from the tap with it)."""
    end_reason: EndReason | None = None
    """Why the conversation ended by itself (goodbye, idle timeout, end-session tool, realtime
    error); None when it was ended from outside."""
    errors: tuple[str, ...] = ()
    """What went wrong, one sentence each (never secrets)."""


@dataclass(frozen=True, slots=True)
class ConversationFinished:
    """The conversation is over by itself; the last event ``events()`` yields."""

    reason: EndReason
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class ConversationProgress:
    """Something a person watching the kiosk may want to see (on screen, in `status`)."""

    kind: str
    """``listening``, ``speaking``, ``tool``; captions: ``heard`` / ``said`` (a finished line
    of the member's / JARVIS's, in ``detail``), ``hearing`` / ``saying`` (the line so far)."""
    detail: str = ""


ConversationEvent = ConversationFinished | ConversationProgress


class ConversationError(Exception):
    """The conversation could not start or broke; the message says why, for a person."""


class WarmConnectionLost(ConversationError):
    """The cloud started the session for the kiosk's warm connection (no secret minted),
    which is gone: ask the cloud again, without ``warm_model``, for a secret of its own."""


class ToolRunner(Protocol):
    """Runs one of JARVIS's tools in the cloud (``POST TOOL_CALL``) for the conversation."""

    async def run_tool(self, name: str, request: ToolCallRequest) -> ToolCallResponse: ...


class Conversation(Protocol):
    """One voice conversation with a member; see the module docstring for its life."""

    async def start(self, start: VoiceStartResponse) -> None:
        """Connect with the ephemeral secret, send the session config, begin listening."""
        ...

    def events(self) -> AsyncIterator[ConversationEvent]:
        """What happens, until and including :class:`ConversationFinished`."""
        ...

    async def end(self, reason: EndReason) -> SessionFacts:
        """Close politely for ``reason`` and return the session's facts. Called once."""
        ...

    def facts(self) -> SessionFacts:
        """The facts as they stand now, without waiting (used when ``end`` overruns)."""
        ...


class ConversationFactory(Protocol):
    """Makes the conversations; lives as long as the agent (it may hold the audio devices)."""

    def __call__(self, session_id: UUID, member: MemberCard, tools: ToolRunner) -> Conversation:
        """A new conversation, not yet started."""
        ...

    def apply_config(self, config: KioskConfig) -> None:
        """The cloud's config (idle timeout, longest session) for conversations to come."""
        ...

    async def aclose(self) -> None:
        """The agent is stopping: release what the factory holds (audio devices)."""
        ...

    def level(self) -> float | None:
        """The microphone's level since the last call, 0 to 1 (None: no microphone open),
        for the kiosk screen's meter."""
        ...

    async def attach_cloud(self, source: StandbySource | None) -> None:
        """The kiosk is connected to a cloud (``source``), or no longer is (None): prepare
        what can be before the first tap (audio devices, a warm connection)."""
        ...


class StandbySource(Protocol):
    """Where standby secrets for a warm connection come from (the cloud client)."""

    async def voice_standby(self, *, timeout_s: float) -> VoiceStandbyResponse: ...


NO_CONVERSATION_ERROR = (
    "no voice conversation is installed in this kiosk build "
    "(kiosk_agent.adapters.realtime is missing): the session was granted by the cloud but "
    "could not be held; update the kiosk software"
)


class NoConversation:
    """What the agent uses when no conversation implementation is installed.

    It fails to start, honestly: the session is recorded with no turns and a realtime error.
    """

    def __init__(self, reason: str = NO_CONVERSATION_ERROR) -> None:
        self._reason = reason

    async def start(self, start: VoiceStartResponse) -> None:
        raise ConversationError(self._reason)

    async def events(self) -> AsyncIterator[ConversationEvent]:
        yield ConversationFinished(EndReason.REALTIME_ERROR, self._reason)

    async def end(self, reason: EndReason) -> SessionFacts:
        return self.facts()

    def facts(self) -> SessionFacts:
        return SessionFacts(end_reason=EndReason.REALTIME_ERROR, errors=(self._reason,))


class NoConversationFactory:
    """The factory of :class:`NoConversation`: holds nothing, ignores the config."""

    def __init__(self, reason: str = NO_CONVERSATION_ERROR) -> None:
        self._reason = reason

    def __call__(self, session_id: UUID, member: MemberCard, tools: ToolRunner) -> Conversation:
        return NoConversation(self._reason)

    def apply_config(self, config: KioskConfig) -> None:
        pass

    async def aclose(self) -> None:
        pass

    def level(self) -> float | None:
        return None

    async def attach_cloud(self, source: StandbySource | None) -> None:
        pass


def no_conversation_factory(reason: str = NO_CONVERSATION_ERROR) -> ConversationFactory:
    return NoConversationFactory(reason)
