"""The session runner drives any Conversation and always reports exactly one end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from contract.kiosk_api import (
    EndReason,
    MemberCard,
    MembershipStatus,
    Turn,
    VoiceStartRequest,
    VoiceStartResponse,
)
from kiosk_agent.adapters.clock import now
from kiosk_agent.adapters.cloud import CloudClient
from kiosk_agent.config import CloudSection
from kiosk_agent.core.conversation import (
    NO_CONVERSATION_ERROR,
    Conversation,
    ConversationError,
    ConversationEvent,
    ConversationFinished,
    ConversationProgress,
    SessionFacts,
    ToolRunner,
    WarmConnectionLost,
    no_conversation_factory,
)
from kiosk_agent.core.machine import ConversationEnded, Input
from kiosk_agent.services.sessions import SessionRunner

MEMBER = MemberCard(badge_id="04A23B1C", status=MembershipStatus.ACTIVE, member_id=uuid4())
START = VoiceStartResponse(
    client_secret="ek_test",
    expires_at=datetime.now(UTC) + timedelta(minutes=1),
    model="gpt-realtime-mini",
    realtime_url="ws://127.0.0.1:1/v1/realtime",
    session={},
)
TURN = Turn(index=0, role="user", content="Bonjour")


@dataclass
class Scripted:
    """A conversation that plays a script: what a real one would report, without a network."""

    events_to_send: list[ConversationEvent] = field(default_factory=list)
    hold_open: bool = False
    start_error: Exception | None = None
    events_error: Exception | None = None
    end_takes_s: float = 0.0
    facts_at_end: SessionFacts = field(default_factory=lambda: SessionFacts(turns=(TURN,)))
    ended_with: list[EndReason] = field(default_factory=list)

    async def start(self, start: VoiceStartResponse) -> None:
        if self.start_error is not None:
            raise self.start_error

    async def events(self) -> AsyncIterator[ConversationEvent]:
        for event in self.events_to_send:
            yield event
        if self.events_error is not None:
            raise self.events_error
        if self.hold_open:
            await asyncio.Event().wait()

    async def end(self, reason: EndReason) -> SessionFacts:
        self.ended_with.append(reason)
        await asyncio.sleep(self.end_takes_s)
        return self.facts_at_end

    def facts(self) -> SessionFacts:
        return SessionFacts(turns=(TURN,), errors=("snapshot",))


@dataclass
class Harness:
    conversation: Conversation | None
    fed: list[Input] = field(default_factory=list)

    def factory(self, session_id: UUID, member: MemberCard, tools: ToolRunner) -> Conversation:
        if self.conversation is None:
            raise RuntimeError("audio device busy")
        return self.conversation

    async def run(self, *, end_after: EndReason | None = None, grace: float = 1.0) -> SessionFacts:
        client = CloudClient("http://127.0.0.1:9", CloudSection())
        runner = SessionRunner(
            client,
            self.factory,
            NoHooks(),
            feed=self.fed.append,
            now=now,
            voice_start_timeout_s=1.0,
            end_grace_s=grace,
        )
        session_id = uuid4()
        task = asyncio.create_task(runner.converse(session_id, MEMBER, START))
        if end_after is not None:
            await asyncio.sleep(0.05)
            runner.end(session_id, end_after)
        await asyncio.wait_for(task, 10)
        await client.aclose()
        ended = [e for e in self.fed if isinstance(e, ConversationEnded)]
        assert len(ended) == 1
        assert ended[0].session_id == session_id
        return ended[0].facts


class NoHooks:
    def cloud_reachable(self) -> None: ...

    def cloud_unreachable(self, reason: str) -> None: ...

    def credential_rejected(self, reason: str) -> None: ...

    def error(self, message: str) -> None: ...


async def test_a_conversation_that_says_goodbye_reports_its_facts() -> None:
    conversation = Scripted(
        [ConversationProgress("speaking"), ConversationFinished(EndReason.GOODBYE)]
    )
    facts = await Harness(conversation).run()
    assert facts.end_reason is EndReason.GOODBYE
    assert facts.turns == (TURN,)
    assert conversation.ended_with == [EndReason.GOODBYE]


async def test_the_agent_ends_a_conversation_with_its_reason() -> None:
    conversation = Scripted(hold_open=True)
    facts = await Harness(conversation).run(end_after=EndReason.NEW_BADGE)
    assert conversation.ended_with == [EndReason.NEW_BADGE]
    assert facts.turns == (TURN,)


async def test_a_goodbye_that_overruns_the_grace_is_cut_and_recorded_as_it_stands() -> None:
    conversation = Scripted(hold_open=True, end_takes_s=30)
    facts = await Harness(conversation).run(end_after=EndReason.MAX_DURATION, grace=0.1)
    assert facts.turns == (TURN,)
    assert facts.errors == ("snapshot", "the conversation did not close within 0.1 s")


async def test_a_conversation_that_cannot_start_is_a_realtime_error() -> None:
    conversation = Scripted(start_error=ConversationError("the client secret expired"))
    facts = await Harness(conversation).run()
    assert facts.end_reason is EndReason.REALTIME_ERROR
    assert "the conversation did not start: the client secret expired" in facts.errors


async def test_a_conversation_that_cannot_be_made_is_a_realtime_error() -> None:
    facts = await Harness(None).run()
    assert facts.end_reason is EndReason.REALTIME_ERROR
    assert facts.errors == ("the conversation could not be created: audio device busy",)


@pytest.mark.parametrize("error", [RuntimeError("socket closed"), ValueError("bad event")])
async def test_a_conversation_whose_events_fail_is_a_realtime_error(error: Exception) -> None:
    conversation = Scripted([ConversationProgress("listening")], events_error=error)
    facts = await Harness(conversation).run()
    assert facts.end_reason is EndReason.REALTIME_ERROR
    assert f"the conversation failed: {error}" in facts.errors
    assert conversation.ended_with == [EndReason.REALTIME_ERROR]


async def test_without_a_conversation_installed_the_session_is_recorded_honestly() -> None:
    harness = Harness(None)
    harness.factory = no_conversation_factory()  # type: ignore[method-assign]
    facts = await harness.run()
    assert facts.end_reason is EndReason.REALTIME_ERROR
    assert facts.turns == ()
    assert NO_CONVERSATION_ERROR in facts.errors[0]


async def test_a_warm_connection_lost_before_the_start_gets_a_secret_of_its_own() -> None:
    # The cloud bound the session to the warm connection (no secret); it was gone by the
    # time the conversation started: the same session is asked again, without it.
    warm_start = START.model_copy(update={"client_secret": None, "expires_at": None})
    lost = Scripted(start_error=WarmConnectionLost("the warm connection is no longer there"))
    second = Scripted([ConversationFinished(EndReason.GOODBYE)])
    made = iter([lost, second])
    asked: list[VoiceStartRequest] = []

    class Cloud(CloudClient):
        async def voice_start(
            self, request: VoiceStartRequest, *, timeout_s: float
        ) -> VoiceStartResponse:
            asked.append(request)
            return START

    fed: list[Input] = []
    client = Cloud("http://127.0.0.1:9", CloudSection())
    runner = SessionRunner(
        client,
        lambda session_id, member, tools: next(made),
        NoHooks(),
        feed=fed.append,
        now=now,
        voice_start_timeout_s=1.0,
        end_grace_s=1.0,
    )
    session_id = uuid4()
    await asyncio.wait_for(runner.converse(session_id, MEMBER, warm_start), 10)
    await client.aclose()
    [request] = asked
    assert (request.session_id, request.warm_model) == (session_id, None)
    [ended] = [e for e in fed if isinstance(e, ConversationEnded)]
    assert ended.facts.end_reason is EndReason.GOODBYE
    assert second.ended_with == [EndReason.GOODBYE]
