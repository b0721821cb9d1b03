"""`python -m simulator`: the real command, a real port, the SDK as a client."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

from openai import AsyncOpenAI

from simulator import Script, ScriptTurn

ROOT = Path(__file__).resolve().parents[3]
ORG_KEY = "sk-command-test-0123456789"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_command_serves_a_script_to_the_sdk(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(
        Script(
            language="en",
            greeting="Hello from the command line.",
            turns=[ScriptTurn(member="Hi", assistant="Hi there.")],
        ).model_dump_json(),
        encoding="utf-8",
    )
    port = free_port()
    env = {**os.environ, "OPENAI_API_KEY": ORG_KEY}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulator",
        "--port",
        str(port),
        "--voice",
        "tone",
        "--script",
        str(script),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        banner = await asyncio.wait_for(process.stdout.readline(), 30)
        assert f"http://127.0.0.1:{port}/v1".encode() in banner
        assert b"1 scripted turns" in banner
        client = AsyncOpenAI(api_key=ORG_KEY, base_url=f"http://127.0.0.1:{port}/v1", max_retries=5)
        try:
            secret = await client.realtime.client_secrets.create(session={"type": "realtime"})
        finally:
            await client.close()
        kiosk = AsyncOpenAI(api_key=secret.value, base_url=f"http://127.0.0.1:{port}/v1")
        try:
            async with kiosk.realtime.connect(model="gpt-realtime-mini") as connection:
                await connection.response.create()
                async for event in connection:
                    if event.type == "response.output_audio_transcript.done":
                        assert event.transcript == "Hello from the command line."
                        break
        finally:
            await kiosk.close()
    finally:
        process.terminate()
        await process.communicate()


async def test_the_command_needs_the_organisation_key() -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulator",
        "--port",
        str(free_port()),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert b"OPENAI_API_KEY" in err
