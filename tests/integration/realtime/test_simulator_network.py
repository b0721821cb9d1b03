"""The simulator's knobs for a real network and a real model: round trips to it (a slow
TCP relay in front of it), the model's time to first audio, and a network that fails.

Each figure must be at least what the knobs add; the upper bounds only catch a knob gone
wild (a busy machine adds its own delays)."""

from __future__ import annotations

import time

import pytest
from openai import AsyncOpenAI
from websockets.exceptions import ConnectionClosedError

from simulator import Pacing, SimulatorSettings, serve

ORG_KEY = "sk-simulator-network-0123456789"
RTT_S = 0.08
TTFA_S = 0.2


async def test_round_trips_and_time_to_first_audio_are_what_the_knobs_say() -> None:
    settings = SimulatorSettings(
        api_key=ORG_KEY,
        network_rtt_ms=RTT_S * 1000,
        pacing=Pacing(response_delay_ms=int(TTFA_S * 1000)),
    )
    async with serve(settings) as simulator:
        warm_up = AsyncOpenAI(api_key=ORG_KEY, base_url=simulator.base_url, max_retries=0)
        try:  # the SDK's first call in a process loads its models: not the network's time
            await warm_up.realtime.client_secrets.create(session={"type": "realtime"})
        finally:
            await warm_up.close()
        client = AsyncOpenAI(api_key=ORG_KEY, base_url=simulator.base_url, max_retries=0)
        try:
            started = time.monotonic()
            secret = await client.realtime.client_secrets.create(
                session={"type": "realtime", "model": "gpt-realtime-mini"}
            )
            first = time.monotonic() - started
            started = time.monotonic()
            await client.realtime.client_secrets.create(
                session={"type": "realtime", "model": "gpt-realtime-mini"}
            )
            again = time.monotonic() - started  # the same (kept-alive) connection
        finally:
            await client.close()
        assert 3 * RTT_S <= first < 3 * RTT_S + 1.0  # TCP, TLS, then the request
        assert RTT_S <= again < RTT_S + 1.0
        kiosk = AsyncOpenAI(
            api_key=secret.value, websocket_base_url=simulator.realtime_url[: -len("/realtime")]
        )
        try:
            started = time.monotonic()
            async with kiosk.realtime.connect(model="gpt-realtime-mini") as connection:
                event = await connection.recv()
                opened = time.monotonic() - started
                assert event.type == "session.created"
                started = time.monotonic()
                await connection.send({"type": "response.create"})
                while (event := await connection.recv()).type != "response.output_audio.delta":
                    pass
                first_audio = time.monotonic() - started
                while (await connection.recv()).type != "response.done":
                    pass  # read it all: unread events would hold the close handshake up
        finally:
            await kiosk.close()
        assert 3 * RTT_S <= opened < 3 * RTT_S + 1.0
        assert RTT_S + TTFA_S <= first_audio < RTT_S + TTFA_S + 1.0


async def test_a_cut_network_drops_the_connection_without_a_close_frame() -> None:
    settings = SimulatorSettings(api_key=ORG_KEY, network_rtt_ms=10)
    async with serve(settings) as simulator:
        assert simulator.link is not None
        kiosk = AsyncOpenAI(
            api_key=ORG_KEY, websocket_base_url=simulator.realtime_url[: -len("/realtime")]
        )
        try:
            async with kiosk.realtime.connect(model="gpt-realtime-mini") as connection:
                assert (await connection.recv()).type == "session.created"
                simulator.link.cut()
                with pytest.raises(ConnectionClosedError) as lost:
                    await connection.recv()
        finally:
            await kiosk.close()
    assert lost.value.rcvd is None  # no close frame: the network failed
