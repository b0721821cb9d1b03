"""The warm Realtime connection: prepared before the tap with a standby secret, bound to the
member at the tap by their session.update, replaced when used, closed or about to expire."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from uuid import uuid4

import pytest

from contract.kiosk_api import EndReason, VoiceStandbyResponse, VoiceStartResponse
from kiosk_agent.adapters.realtime import RealtimeConversation, RealtimeOptions, audio_source
from kiosk_agent.adapters.realtime_warm import WarmStandby, connect_line
from kiosk_agent.core.realtime import SessionLimits
from simulator import RunningSimulator, serve
from tests.integration.realtime.kiosk_audio import MemberAtKiosk, until
from tests.integration.realtime.test_kiosk_conversation import (
    GREETING,
    MEMBER,
    SESSION,
    Tools,
    Watcher,
    mint,
    simulated,
)

STANDBY: dict[str, Any] = {
    "type": "realtime",
    "instructions": "Say nothing until you are given a member.",
    "tools": [],
    "audio": {
        "input": {"format": {"type": "audio/pcm", "rate": 24000}, "turn_detection": None},
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"},
    },
}


class Cloud:
    """The cloud's standby endpoint as the kiosk sees it: mints with the organisation key."""

    def __init__(self, simulator: RunningSimulator, ttl_s: int = 1800) -> None:
        self.simulator = simulator
        self.ttl_s = ttl_s
        self.asked = 0

    async def voice_standby(self, *, timeout_s: float) -> VoiceStandbyResponse:
        self.asked += 1
        value, expires_at = await mint(self.simulator, STANDBY, self.ttl_s)
        return VoiceStandbyResponse(
            client_secret=value,
            expires_at=expires_at,
            model="gpt-realtime-mini",
            realtime_url=self.simulator.realtime_url + "?model=gpt-realtime-mini",
            session=STANDBY,
        )


@pytest.fixture
async def member() -> AsyncIterator[MemberAtKiosk]:
    async with MemberAtKiosk(speed=8.0) as at_kiosk:
        yield at_kiosk


def standby_for(cloud: Cloud, session_s: float = 300) -> WarmStandby:
    base = cloud.simulator.realtime_url[: -len("/realtime")]
    return WarmStandby(
        cloud,
        session_s=lambda: session_s,
        connect=lambda standby, timeout_s: connect_line(standby, timeout_s, base),
        retry_s=0.2,
    )


async def test_the_member_is_bound_at_the_tap_on_the_connection_opened_before_it(
    member: MemberAtKiosk,
) -> None:
    async with serve(simulated()) as simulator:
        cloud = Cloud(simulator)
        warm = standby_for(cloud)
        warm.start()
        try:
            await until(lambda: warm.model == "gpt-realtime-mini")
            [opened] = simulator.simulator.sessions
            assert opened.session["instructions"] == STANDBY["instructions"]  # nobody yet
            conversation = RealtimeConversation(
                session_id=uuid4(),
                member=MEMBER,
                tools=Tools(),
                audio=audio_source(member),
                options=RealtimeOptions(limits=SessionLimits(idle_timeout_s=5)),
                warm=warm,
            )
            # The cloud checked the member and minted nothing: the session to bind them with.
            await conversation.start(
                VoiceStartResponse(
                    client_secret=None,
                    expires_at=None,
                    model="gpt-realtime-mini",
                    realtime_url=simulator.realtime_url + "?model=gpt-realtime-mini",
                    session=SESSION,
                )
            )
            # The next warm connection waits until the greeting is out of the way.
            assert cloud.asked == 1
            watcher = Watcher(conversation)
            await until(lambda: watcher.said >= 1)
            facts = await conversation.end(EndReason.NEW_BADGE)
            await until(lambda: cloud.asked == 2)  # the next warm connection is on its way
            await until(lambda: warm.model is not None)
        finally:
            await warm.aclose()
    first = simulator.simulator.sessions[0]
    assert first.log.client_events[:2] == ["session.update", "response.create"]
    assert first.session["instructions"] == SESSION["instructions"]  # bound to Julie
    assert first.session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    assert facts.turns[0].content == GREETING
    assert len(simulator.simulator.sessions) == 2  # used once, replaced


async def test_a_lost_warm_connection_is_replaced_and_one_of_another_model_not_used() -> None:
    settings = replace(simulated(), network_rtt_ms=2)  # a network the test can cut
    async with serve(settings) as simulator:
        cloud = Cloud(simulator)
        warm = standby_for(cloud)
        warm.start()
        try:
            await until(lambda: warm.model is not None)
            assert await warm.take("gpt-realtime") is None  # not this kiosk's model
            assert simulator.link is not None
            simulator.link.cut()  # the network drops the idle connection
            await until(lambda: cloud.asked == 2 and warm.model is not None)
        finally:
            await warm.aclose()
    assert warm.prepared == 2


async def test_a_warm_connection_whose_key_would_not_outlive_a_session_is_replaced() -> None:
    async with serve(simulated()) as simulator:
        # A session may last 300 s and reconnects need the key: it must have more than
        # 300 + 60 s left. A 362 s key is fresh for about 2 s, then replaced.
        cloud = Cloud(simulator, ttl_s=362)
        warm = standby_for(cloud, session_s=300)
        warm.start()
        try:
            await until(lambda: warm.model is not None)
            await until(lambda: warm.prepared >= 2, seconds=10)
        finally:
            await warm.aclose()
    assert len(simulator.simulator.sessions) >= 2


async def test_without_a_warm_connection_there_is_nothing_to_take() -> None:
    async with serve(simulated()) as simulator:
        warm = standby_for(Cloud(simulator))  # never started: nothing ready
        assert warm.model is None
        assert await warm.take("gpt-realtime-mini") is None
