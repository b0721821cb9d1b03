"""The kiosk's conversation (SDK adapter + core + real playback path) against the simulator."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from openai import AsyncOpenAI

from contract.kiosk_api import (
    EndReason,
    KioskConfig,
    ToolCallRequest,
    ToolCallResponse,
    VoiceStartResponse,
)
from hardware.audio import AudioIO
from hardware.audio.files import NullOutput, WavFileInput
from hardware.settings import AudioBackend, AudioSettings, EchoMode
from kiosk_agent.adapters.realtime import (
    ConversationAudio,
    RealtimeConversation,
    RealtimeOptions,
    audio_source,
    conversation_factory,
    websocket_base,
)
from kiosk_agent.config import KioskSettings
from kiosk_agent.core.conversation import (
    ConversationError,
    ConversationEvent,
    ConversationFinished,
    ConversationProgress,
)
from kiosk_agent.core.realtime import SessionLimits
from simulator import (
    Fault,
    Pacing,
    RunningSimulator,
    Script,
    ScriptedToolCall,
    ScriptTurn,
    SimulatorSettings,
    serve,
)
from tests.integration.realtime.kiosk_audio import (
    MemberAtKiosk,
    member_speech,
    silence,
    until,
    write_wav,
)
from tests.unit.realtime.kiosk_session import JULIE, KIOSK_SESSION

ORG_KEY = "sk-kiosk-test-0123456789"
MEMBER = JULIE
SESSION = KIOSK_SESSION
SCHEDULE = ScriptTurn(
    member="Quels sont mes cours cette semaine ?",
    before_tool="Je regarde ton planning.",
    tool=ScriptedToolCall(name="get_member_schedule", arguments={"period": "week"}),
    assistant="Tu as yoga mardi à dix-huit heures et spinning jeudi à midi.",
)
GOODBYE = ScriptTurn(member="Merci, au revoir !", assistant="Au revoir Julie, bonne séance !")
GREETING = "Bonjour Julie ! Ravie de te revoir à la salle. Que puis-je faire pour toi ?"


class Tools:
    """The cloud's tool endpoint as the conversation sees it."""

    def __init__(
        self, answer: Callable[[str, ToolCallRequest], Awaitable[ToolCallResponse]] | None = None
    ) -> None:
        self.requests: list[tuple[str, ToolCallRequest]] = []
        self._answer = answer

    async def run_tool(self, name: str, request: ToolCallRequest) -> ToolCallResponse:
        self.requests.append((name, request))
        if self._answer is not None:
            return await self._answer(name, request)
        return ToolCallResponse(ok=True, output={"classes": ["yoga mardi 18h", "spinning jeudi"]})


async def voice_start(
    simulator: RunningSimulator, session: dict[str, Any] = SESSION
) -> VoiceStartResponse:
    """What the cloud's voice-start does: mint a client secret with the organisation key."""
    value, expires_at = await mint(simulator, session)
    return VoiceStartResponse(
        client_secret=value,
        expires_at=expires_at,
        model="gpt-realtime-mini",
        realtime_url=simulator.realtime_url + "?model=gpt-realtime-mini",
        session=session,
    )


async def mint(
    simulator: RunningSimulator, session: dict[str, Any], ttl_s: int = 600
) -> tuple[str, datetime]:
    """A client secret for ``session``, minted with the organisation key, and its expiry."""
    client = AsyncOpenAI(api_key=ORG_KEY, base_url=simulator.base_url, max_retries=0)
    try:
        secret = await client.realtime.client_secrets.create(
            session={**session, "model": "gpt-realtime-mini"},
            expires_after={"anchor": "created_at", "seconds": ttl_s},
        )
    finally:
        await client.close()
    return secret.value, datetime.fromtimestamp(secret.expires_at, UTC)


def conversation(
    audio: ConversationAudio,
    tools: Tools | None = None,
    *,
    tool_timeout_s: float = 5.0,
    **limits: Any,
) -> RealtimeConversation:
    limits.setdefault("idle_timeout_s", 5.0)
    options = RealtimeOptions(limits=SessionLimits(**limits), tool_timeout_s=tool_timeout_s)
    return RealtimeConversation(
        session_id=uuid4(),
        member=MEMBER,
        tools=tools or Tools(),
        audio=audio_source(audio),
        options=options,
    )


def simulated(*turns: ScriptTurn, pacing: Pacing | None = None) -> SimulatorSettings:
    return SimulatorSettings(
        api_key=ORG_KEY,
        pacing=pacing or Pacing(),
        script=Script(language="fr", greeting=GREETING, turns=list(turns)),
    )


class Watcher:
    """Collects a conversation's events in the background."""

    def __init__(self, conv: RealtimeConversation) -> None:
        self.events: list[ConversationEvent] = []
        self.said = 0
        self._task = asyncio.create_task(self._collect(conv))

    async def _collect(self, conv: RealtimeConversation) -> None:
        async for event in conv.events():
            self.events.append(event)
            if isinstance(event, ConversationProgress) and event.kind == "said":
                self.said += 1

    async def finished(self) -> ConversationFinished:
        await asyncio.wait_for(self._task, 30)
        last = self.events[-1]
        assert isinstance(last, ConversationFinished)
        return last

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events if isinstance(e, ConversationProgress)]


@pytest.fixture
async def member() -> AsyncIterator[MemberAtKiosk]:
    async with MemberAtKiosk(speed=8.0) as at_kiosk:
        yield at_kiosk


async def reply(member: MemberAtKiosk, watcher: Watcher, answers: int, text: str) -> None:
    """Wait for JARVIS to have said ``answers`` things and played them, then say ``text``."""
    await until(lambda: watcher.said >= answers)
    await member.quiet()
    member.say(member_speech(text, "fr"))
    await member.finished_speaking()


async def test_a_member_asks_jarvis_uses_a_tool_answers_and_says_goodbye(
    member: MemberAtKiosk,
) -> None:
    tools = Tools()
    async with serve(simulated(SCHEDULE, GOODBYE)) as simulator:
        conv = conversation(member, tools)
        await conv.start(await voice_start(simulator))
        watcher = Watcher(conv)
        await reply(member, watcher, 1, SCHEDULE.member)
        await reply(member, watcher, 3, GOODBYE.member)
        finished = await watcher.finished()
        facts = await conv.end(EndReason.GOODBYE)

    assert finished.reason is EndReason.GOODBYE
    assert facts.end_reason is EndReason.GOODBYE
    assert [(t.role, t.content) for t in facts.turns] == [
        ("assistant", GREETING),
        ("user", SCHEDULE.member),
        ("assistant", "Je regarde ton planning."),
        ("tool", 'get_member_schedule({"period": "week"}) → ok'),
        ("assistant", SCHEDULE.assistant),
        ("user", GOODBYE.member),
        ("assistant", GOODBYE.assistant),
    ]
    [(name, request)] = tools.requests
    assert (name, request.arguments, request.member_id) == (
        "get_member_schedule",
        {"period": "week"},
        MEMBER.member_id,
    )
    [session] = simulator.simulator.sessions
    assert json.loads(next(iter(session.log.tool_outputs.values()))) == {
        "classes": ["yoga mardi 18h", "spinning jeudi"]
    }
    assert [t.ok for t in facts.tool_calls] == [True]
    usage = facts.usage
    assert usage.input_audio_tokens > 0
    assert usage.output_audio_tokens > 0
    assert facts.transcription.tokens > 0
    assert facts.latency.first_response_ms is not None
    assert facts.latency.avg_playback_ms is not None
    assert facts.errors == ()
    assert {"listening", "speaking", "heard", "said", "tool"} <= set(watcher.kinds())


def played_greeting(conv: RealtimeConversation) -> bool:
    facts = conv.realtime_facts
    return facts is not None and facts.greeting_played_at is not None


async def test_barge_in_stops_the_kiosk_and_truncates_what_the_member_did_not_hear(
    member: MemberAtKiosk,
) -> None:
    # JARVIS's greeting is generated in real time (and played 8 times faster, so the speaker
    # waits for it): the member interrupts it while it is still being produced.
    async with serve(simulated(SCHEDULE, pacing=Pacing(generation_speed=1.0))) as simulator:
        conv = conversation(member)
        await conv.start(await voice_start(simulator))
        watcher = Watcher(conv)
        # Once the member has heard some of it (a busy machine may take a while between the
        # greeting's first audio and its first sample played; nothing heard, nothing to
        # truncate).
        await until(lambda: played_greeting(conv))
        member.say(member_speech(SCHEDULE.member, "fr"))
        await until(lambda: bool(simulator.simulator.sessions[0].log.truncations))
        await until(lambda: "heard" in watcher.kinds())  # the interruption was heard
        facts = await conv.end(EndReason.NEW_BADGE)
        realtime = conv.realtime_facts

    assert realtime is not None
    [(item_id, audio_end_ms)] = realtime.truncations
    assert simulator.simulator.sessions[0].log.truncations == [
        {"item_id": item_id, "audio_end_ms": audio_end_ms}
    ]
    greeting = next(t for t in facts.turns if t.item_id == item_id)
    assert greeting.audio_ms == audio_end_ms
    assert 0 < audio_end_ms < len(simulator.simulator.voice.pcm(GREETING)) // 48
    assert "interrupted" in [
        e.detail for e in watcher.events if isinstance(e, ConversationProgress)
    ]
    assert realtime.cancelled_responses == 1
    assert [t.content for t in facts.turns if t.role == "user"] == [SCHEDULE.member]
    assert facts.end_reason is None  # ended by the kiosk (a new badge), not by itself
    assert not member.playing


@pytest.mark.parametrize("echo", [EchoMode.GATE, EchoMode.OPEN])
async def test_the_echo_policy_decides_whether_speech_over_jarvis_is_heard(
    echo: EchoMode, tmp_path: Path
) -> None:
    """The whole audio path: a WAV microphone at 22.05 kHz through capture, resampling and
    the echo gate; the member speaks while JARVIS greets."""
    wav = write_wav(
        tmp_path / "member.wav",
        silence(2000) + member_speech(SCHEDULE.member, "fr") + silence(1000),
    )
    settings = AudioSettings(
        backend=AudioBackend.FILE, echo_mode=echo, file_speed=2.0, input_wav=wav
    )
    audio = AudioIO(
        settings,
        WavFileInput(wav, settings.block_ms, speed=2.0),
        NullOutput(settings.device_rate_hz, settings.block_ms, speed=2.0),
    )
    short = ScriptTurn(member=SCHEDULE.member, assistant="D'accord.")
    async with serve(simulated(short)) as simulator, audio:
        conv = conversation(audio, idle_timeout_s=0.5)
        await conv.start(await voice_start(simulator))
        finished = await Watcher(conv).finished()
        facts = await conv.end(finished.reason)
        realtime = conv.realtime_facts
    assert realtime is not None
    heard = [t.content for t in facts.turns if t.role == "user"]
    if echo is EchoMode.GATE:
        # The microphone was gated while JARVIS spoke: no barge-in, the member went unheard.
        assert audio.stats().frames_muted > 0
        assert realtime.truncations == []
        assert heard == []
        assert finished.reason is EndReason.IDLE_TIMEOUT
    else:
        [(_, audio_end_ms)] = realtime.truncations
        assert audio_end_ms > 0
        assert heard == [SCHEDULE.member]


async def test_a_connection_dropped_mid_answer_is_reopened_and_the_question_answered(
    member: MemberAtKiosk,
) -> None:
    # The simulator loses the TCP connection halfway through the answer (no close frame);
    # the member says nothing more: the kiosk reconnects, replays, and asks for the answer.
    dropped = ScriptTurn(
        member="Quand ferme la salle ?",
        assistant="Ce soir, la salle ferme à vingt-deux heures.",
        fault=Fault.DISCONNECT,
    )
    async with serve(simulated(dropped)) as simulator:
        conv = conversation(member, backoff_initial_s=0.1)
        await conv.start(await voice_start(simulator))
        watcher = Watcher(conv)
        await reply(member, watcher, 1, dropped.member)
        await until(lambda: len(simulator.simulator.sessions) == 2)
        await until(lambda: watcher.said >= 2)
        facts = await conv.end(EndReason.NEW_BADGE)
        realtime = conv.realtime_facts
    assert realtime is not None
    assert realtime.reconnects == 1
    second = simulator.simulator.sessions[1]
    # The greeting and the question replayed as text, then the answer asked for, once.
    assert second.log.client_events[:4] == [
        "session.update",
        "conversation.item.create",
        "conversation.item.create",
        "response.create",
    ]
    assert second.log.client_events.count("response.create") == 1
    assert [t.content for t in facts.turns if t.role == "assistant"][-1] == dropped.assistant
    assert facts.errors == ()
    assert [s.log.errors for s in simulator.simulator.sessions] == [[], []]


async def test_an_unknown_client_secret_cannot_start_a_conversation(
    member: MemberAtKiosk,
) -> None:
    async with serve(simulated()) as simulator:
        start = (await voice_start(simulator)).model_copy(
            update={"client_secret": "ek_not_minted_here_0123456789"}
        )
        conv = conversation(member)
        with pytest.raises(ConversationError, match="invalid_api_key"):
            await conv.start(start)
        assert len(simulator.simulator.sessions) == 0
    assert conv.facts().errors  # what went wrong is kept for the session record
    assert "ek_not_minted" not in " ".join(conv.facts().errors)


async def test_running_out_of_quota_ends_the_conversation_without_retrying(
    member: MemberAtKiosk,
) -> None:
    broke = ScriptTurn(member="Bonjour", assistant="Salut !", fault=Fault.INSUFFICIENT_QUOTA)
    async with serve(simulated(broke)) as simulator:
        conv = conversation(member)
        await conv.start(await voice_start(simulator))
        watcher = Watcher(conv)
        await reply(member, watcher, 1, broke.member)
        finished = await watcher.finished()
        facts = await conv.end(finished.reason)
    assert (finished.reason, finished.detail) == (EndReason.REALTIME_ERROR, "insufficient_quota")
    assert facts.end_reason is EndReason.REALTIME_ERROR
    assert len(simulator.simulator.sessions) == 1


@pytest.mark.parametrize("failure", ["raises", "too_slow"])
async def test_a_failing_tool_becomes_an_error_the_model_can_explain(
    member: MemberAtKiosk, failure: str
) -> None:
    async def broken(name: str, request: ToolCallRequest) -> ToolCallResponse:
        if failure == "raises":
            raise ConnectionError("cloud unreachable")
        await asyncio.sleep(10)
        raise AssertionError("the tool should have been given up on")

    async with serve(simulated(SCHEDULE)) as simulator:
        conv = conversation(member, Tools(broken), tool_timeout_s=0.3)
        await conv.start(await voice_start(simulator))
        watcher = Watcher(conv)
        await reply(member, watcher, 1, SCHEDULE.member)
        await until(lambda: watcher.said >= 3)
        facts = await conv.end(EndReason.NEW_BADGE)
    [record] = facts.tool_calls
    assert not record.ok
    output = json.loads(next(iter(simulator.simulator.sessions[0].log.tool_outputs.values())))
    assert "get_member_schedule" in output["error"]
    assert facts.turns[-1].content == SCHEDULE.assistant  # JARVIS still answered


async def test_conversations_from_the_factory_share_the_audio_and_end_when_nobody_talks(
    member: MemberAtKiosk,
) -> None:
    factory = conversation_factory(KioskSettings(), audio=member)
    factory.apply_config(KioskConfig(idle_timeout_s=5, max_session_s=60))
    assert (factory.options.limits.idle_timeout_s, factory.options.limits.max_session_s) == (5, 60)
    factory.options = RealtimeOptions(limits=SessionLimits(idle_timeout_s=0.5))  # a quick test
    async with serve(simulated()) as simulator:
        for _ in range(2):
            conv = factory(uuid4(), MEMBER, Tools())
            await conv.start(await voice_start(simulator))
            finished = await Watcher(conv).finished()
            facts = await conv.end(finished.reason)
            assert finished.reason is EndReason.IDLE_TIMEOUT
            assert [t.role for t in facts.turns] == ["assistant"]  # the greeting, then silence
    await factory.aclose()  # the audio path was given, not opened: it stays the caller's
    assert member.play("after", bytes(960))
    assert len(simulator.simulator.sessions) == 2


def test_the_realtime_url_must_name_the_realtime_endpoint() -> None:
    assert websocket_base("wss://api.openai.com/v1/realtime?model=gpt-realtime") == (
        "wss://api.openai.com/v1"
    )
    assert websocket_base("ws://127.0.0.1:8100/v1/realtime/") == "ws://127.0.0.1:8100/v1"
    with pytest.raises(ConversationError, match="ws"):
        websocket_base("https://api.openai.com/v1/realtime")
    with pytest.raises(ConversationError, match="realtime"):
        websocket_base("wss://api.openai.com/v1/chat")


async def test_a_member_without_an_id_cannot_start_a_conversation(
    member: MemberAtKiosk,
) -> None:
    conv = RealtimeConversation(
        session_id=uuid4(),
        member=MEMBER.model_copy(update={"member_id": None}),
        tools=Tools(),
        audio=audio_source(member),
    )
    start = VoiceStartResponse(
        client_secret="ek_x",
        expires_at=datetime.now(UTC),
        model="gpt-realtime-mini",
        realtime_url="ws://127.0.0.1:9/v1/realtime",
        session=SESSION,
    )
    with pytest.raises(ConversationError, match="member"):
        await conv.start(start)
