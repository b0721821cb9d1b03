"""The simulator against the official openai SDK, unchanged, over 127.0.0.1."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from websockets.exceptions import ConnectionClosedError

from simulator import RunningSimulator, Script, ScriptTurn, SimulatorSettings, serve
from simulator.script import ScriptedToolCall
from tests.integration.realtime.kiosk_audio import member_speech, silence

ORG_KEY = "sk-simulator-test-0123456789"
SCRIPT = Script(
    language="en",
    greeting="Hi Sam, welcome back.",
    turns=[
        ScriptTurn(
            member="When is my next class?",
            tool=ScriptedToolCall(name="next_class", arguments={"member": "me"}),
            assistant="Spinning, tomorrow at noon.",
        )
    ],
)
SESSION: dict[str, Any] = {
    "type": "realtime",
    "model": "gpt-realtime-mini",
    "instructions": "You are JARVIS, the gym's assistant.",
    "tools": [
        {
            "type": "function",
            "name": "next_class",
            "description": "The next class.",
            "parameters": {"type": "object", "properties": {"member": {"type": "string"}}},
        }
    ],
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 400},
            "transcription": {"model": "gpt-4o-mini-transcribe"},
            "noise_reduction": {"type": "far_field"},
        },
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"},
    },
}


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def simulator(clock: Clock) -> AsyncIterator[RunningSimulator]:
    async with serve(SimulatorSettings(api_key=ORG_KEY, script=SCRIPT), clock=clock) as running:
        yield running


async def mint(simulator: RunningSimulator, key: str = ORG_KEY, **params: Any) -> Any:
    client = AsyncOpenAI(api_key=key, base_url=simulator.base_url, max_retries=0)
    try:
        return await client.realtime.client_secrets.create(**params)
    finally:
        await client.close()


async def next_of(connection: AsyncRealtimeConnection, kind: str) -> Any:
    async for event in connection:
        if event.type == kind:
            return event
    raise AssertionError(f"the connection closed before {kind}")


async def test_the_sdk_mints_a_client_secret_bound_to_the_session(
    simulator: RunningSimulator,
) -> None:
    before = int(time.time())
    secret = await mint(
        simulator, session=SESSION, expires_after={"anchor": "created_at", "seconds": 120}
    )
    assert secret.value.startswith("ek_")
    assert before + 120 <= secret.expires_at <= int(time.time()) + 120
    session = secret.session
    assert session.type == "realtime"
    assert session.id.startswith("sess_")
    assert session.model == "gpt-realtime-mini"
    assert session.instructions == SESSION["instructions"]
    detection = session.audio.input.turn_detection
    assert (
        detection.type,
        detection.threshold,
        detection.prefix_padding_ms,
        detection.silence_duration_ms,
    ) == ("server_vad", 0.5, 300, 400)
    assert session.audio.output.voice == "marin"
    assert len(simulator.simulator.secrets) == 1


async def test_a_wrong_organisation_key_is_refused_without_echoing_it(
    simulator: RunningSimulator,
) -> None:
    with pytest.raises(openai.AuthenticationError) as refused:
        await mint(simulator, key="sk-wrong-key-abcdefghijkl", session=SESSION)
    assert refused.value.status_code == 401
    assert refused.value.code == "invalid_api_key"
    assert "abcdefghijkl" not in str(refused.value)


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"session": {**SESSION, "temperature": 0.8}}, "session.temperature"),
        ({"session": {**SESSION, "model": "gpt-5-turbo-realtime"}}, "session.model"),
        (
            {"session": {"type": "realtime", "audio": {"output": {"voice": "robot"}}}},
            "session.audio.output.voice",
        ),
        ({"expires_after": {"anchor": "created_at", "seconds": 5}}, "expires_after.seconds"),
    ],
)
async def test_a_bad_request_is_refused_with_the_parameter_named(
    simulator: RunningSimulator, params: dict[str, Any], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        await mint(simulator, **params)
    assert refused.value.param == param
    assert len(simulator.simulator.secrets) == 0


async def test_a_session_opened_with_a_client_secret_speaks_the_ga_protocol(
    simulator: RunningSimulator,
) -> None:
    secret = await mint(simulator, session=SESSION)
    client = AsyncOpenAI(api_key=secret.value, base_url=simulator.base_url)
    try:
        async with client.realtime.connect(model="gpt-realtime-mini") as connection:
            created = await next_of(connection, "session.created")
            assert created.session.instructions == SESSION["instructions"]
            await connection.session.update(
                session={"type": "realtime", "instructions": "Be brief."}
            )
            updated = await next_of(connection, "session.updated")
            assert updated.session.instructions == "Be brief."

            speech = member_speech("When is my next class?", "en") + silence(700)
            for i in range(0, len(speech), 960):
                await connection.input_audio_buffer.append(
                    audio=base64.b64encode(speech[i : i + 960]).decode()
                )
            stopped = await next_of(connection, "input_audio_buffer.speech_stopped")
            assert stopped.audio_end_ms > 500
            transcript = await next_of(
                connection, "conversation.item.input_audio_transcription.completed"
            )
            assert transcript.transcript == "When is my next class?"
            call = await next_of(connection, "response.function_call_arguments.done")
            assert (call.name, json.loads(call.arguments)) == ("next_class", {"member": "me"})
            done = await next_of(connection, "response.done")
            assert done.response.status == "completed"

            await connection.conversation.item.create(
                item={
                    "type": "function_call_output",
                    "call_id": call.call_id,
                    "output": json.dumps({"class": "spinning", "at": "12:00"}),
                }
            )
            await connection.response.create()
            audio = b""
            async for event in connection:
                if event.type == "response.output_audio.delta":
                    audio += base64.b64decode(event.delta)
                if event.type == "response.output_audio_transcript.done":
                    assert event.transcript == "Spinning, tomorrow at noon."
                if event.type == "response.done":
                    usage = event.response.usage
                    break
            assert len(audio) > 24_000  # more than half a second of real PCM
            assert usage.output_token_details.audio_tokens == -(-len(audio) // 48 // 50)
            assert usage.input_token_details.audio_tokens > 0  # the member's turn, re-read

            await connection.send(
                {
                    "type": "conversation.item.truncate",
                    "item_id": "nope",
                    "content_index": 0,
                    "audio_end_ms": 10,
                }
            )
            error = await next_of(connection, "error")
            assert error.error.code == "invalid_value"
            await connection.send_raw(json.dumps({"type": "jarvis.dance"}))
            error = await next_of(connection, "error")
            assert (error.error.code, error.error.param) == ("invalid_value", "type")
            await connection.response.create()
            assert (await next_of(connection, "response.done")).response.status == "completed"
    finally:
        await client.close()
    [session] = simulator.simulator.sessions
    assert session.log.tool_outputs == {call.call_id: '{"class": "spinning", "at": "12:00"}'}


async def refused_on_connect(simulator: RunningSimulator, key: str) -> tuple[Any, int]:
    client = AsyncOpenAI(api_key=key, base_url=simulator.base_url)
    try:
        async with client.realtime.connect(model="gpt-realtime-mini") as connection:
            error = await connection.recv()
            with pytest.raises(ConnectionClosedError) as closed:
                await connection.recv()
    finally:
        await client.close()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.reason == "invalid_request_error.invalid_api_key"
    return error, closed.value.rcvd.code


async def test_an_unknown_key_gets_an_error_event_then_close_code_3000(
    simulator: RunningSimulator,
) -> None:
    error, code = await refused_on_connect(simulator, "ek_0000000000000000000000000000beef")
    assert (error.type, error.error.code, code) == ("error", "invalid_api_key", 3000)
    assert "0000beef" not in error.error.message
    assert simulator.simulator.sessions == []


async def test_an_expired_client_secret_is_refused(
    simulator: RunningSimulator, clock: Clock
) -> None:
    secret = await mint(
        simulator, session=SESSION, expires_after={"anchor": "created_at", "seconds": 10}
    )
    clock.offset = 11
    error, code = await refused_on_connect(simulator, secret.value)
    assert (error.error.code, code) == ("invalid_api_key", 3000)
    assert "expired" in error.error.message


async def test_the_organisation_key_opens_a_default_session_for_the_model(
    simulator: RunningSimulator,
) -> None:
    client = AsyncOpenAI(api_key=ORG_KEY, base_url=simulator.base_url)
    try:
        async with client.realtime.connect(model="gpt-realtime") as connection:
            created = await next_of(connection, "session.created")
            await connection.response.create()
            transcript = await next_of(connection, "response.output_audio_transcript.done")
    finally:
        await client.close()
    assert created.session.model == "gpt-realtime"
    assert transcript.transcript == "Hi Sam, welcome back."
