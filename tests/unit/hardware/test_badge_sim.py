"""The simulated reader from a named pipe, standard input and HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import httpx
import pytest

from contract.badge import BadgeEncoding, BadgeRules, ByteOrder
from hardware.badge_health import ReaderState
from hardware.badge_reader import BadgeRead, BadgeReaderError
from hardware.badge_sim import SimulatedBadgeReader
from hardware.settings import BadgeReaderSettings, SimulatedReaderSettings


def settings(rules: BadgeRules | None = None, **sim: object) -> BadgeReaderSettings:
    return BadgeReaderSettings(
        rules=rules or BadgeRules(),
        simulated=SimulatedReaderSettings.model_validate({"stdin": False, **sim}),
    )


async def take(reader: SimulatedBadgeReader, count: int) -> list[BadgeRead]:
    reads: list[BadgeRead] = []
    async with asyncio.timeout(10):
        async for read in reader.reads():
            reads.append(read)
            if len(reads) == count:
                break
    return reads


async def test_named_pipe_survives_writers_coming_and_going(tmp_path: Path) -> None:
    pipe = tmp_path / "run" / "badge"
    reader = SimulatedBadgeReader(settings(pipe_path=pipe))
    async with reader:
        assert pipe.is_fifo()
        # Two separate writers, as two `echo ... > pipe` commands would be.
        with pipe.open("w") as writer:
            writer.write("04:a2:3b:12\n# a comment line\n\nnot-a-badge\n")
        with pipe.open("w") as writer:
            writer.write("04 5C 8A 22 9F 61 80\n")
        reads = await take(reader, 2)
        health = reader.health
    assert [r.badge_id for r in reads] == ["04A23B12", "045C8A229F6180"]
    assert health.rejected == 1
    assert "not hexadecimal" in (health.last_error or "")
    assert reader.health.state is ReaderState.STOPPED


async def test_standard_input_as_a_pipe() -> None:
    read_fd, write_fd = os.pipe()
    rules = BadgeRules(encoding=BadgeEncoding.DECIMAL, byte_order=ByteOrder.LSB_FIRST)
    with os.fdopen(read_fd, "rb", buffering=0) as stdin:
        reader = SimulatedBadgeReader(settings(rules, stdin=True), stdin=stdin)
        async with reader:
            os.write(write_fd, b"0305897988\n")
            os.close(write_fd)  # end of input: the reader keeps its other sources going
            reads = await take(reader, 1)
    assert reads[0].badge_id == "04A23B12"
    assert reads[0].raw == "0305897988"


async def test_standard_input_redirected_from_a_file(tmp_path: Path) -> None:
    script = tmp_path / "badges.txt"
    script.write_text("# demo script\n04A23B12\n045C8A229F6180\n")
    with script.open("rb") as stdin:
        reader = SimulatedBadgeReader(settings(stdin=True), stdin=stdin)
        async with reader:
            reads = await take(reader, 2)
    assert [r.badge_id for r in reads] == ["04A23B12", "045C8A229F6180"]


async def test_http_endpoint_answers_with_the_canonical_id() -> None:
    reader = SimulatedBadgeReader(settings(http_port=0))
    async with reader:
        address = reader.http_address
        assert address is not None
        host, port = address
        assert host == "127.0.0.1"
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
            first = await client.post("/badge", content="04:a2:3b:12")
            repeat = await client.post("/badge", json={"badge": "04A23B12"})
            other = await client.post("/badge", json={"badge": "045C8A229F6180"})
            bad = await client.post("/badge", content="hello")
            malformed = await client.post("/badge", json={"id": "04A23B12"})
            wrong_path = await client.post("/badges", content="04A23B12")
            empty = await client.post("/badge", content="")
        reads = await take(reader, 3)
    assert first.status_code == 200
    assert first.json() == {"badge_id": "04A23B12", "raw": "04:a2:3b:12"}
    # Every tap is handed over: dropping repeats is the state machine's job, for all readers.
    assert repeat.json() == {"badge_id": "04A23B12", "raw": "04A23B12"}
    assert other.json()["badge_id"] == "045C8A229F6180"
    assert bad.status_code == 422
    assert "not hexadecimal" in bad.json()["error"]
    assert malformed.status_code == 400
    assert wrong_path.status_code == 404
    assert empty.status_code == 400
    assert [r.badge_id for r in reads] == ["04A23B12", "04A23B12", "045C8A229F6180"]
    assert reader.health.recent_shapes == ("hex:8", "hex:8", "hex:14", "other:5")


async def test_http_port_in_use_fails_at_open() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        reader = SimulatedBadgeReader(settings(http_port=port))
        with pytest.raises(BadgeReaderError, match="pick another port"):
            await reader.__aenter__()


async def test_pipe_path_that_is_a_regular_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "badge"
    path.write_text("")
    reader = SimulatedBadgeReader(settings(pipe_path=path))
    with pytest.raises(BadgeReaderError, match="is not a named pipe"):
        await reader.__aenter__()


def test_a_simulated_reader_needs_a_source() -> None:
    with pytest.raises(BadgeReaderError, match="has no source"):
        SimulatedBadgeReader(settings())
