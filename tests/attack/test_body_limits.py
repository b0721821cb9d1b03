"""Oversized bodies: refused with 413 while they are read, per route, before any token check.

The memory test runs the cloud as a real `jarvis-cloud serve` process so that its own peak
memory (VmHWM) can be read: 100 MB of JSON sent without a token must not grow it, and
`/health` keeps answering while the upload goes on.
"""

from __future__ import annotations

import json
import select
import signal
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from cloud_api.app import DEFAULT_BODY_LIMIT
from contract import kiosk_api as api
from tests.cli_process import CloudProcess, clean_env
from tests.cloud_server import CloudServer, free_port
from tests.conftest import PostgresServer

MB = 1024 * 1024


def raw_post(
    port: int, path: str, chunks: Iterator[bytes], *, length: int | None = None
) -> tuple[int, bytes, int]:
    """POST `chunks` as a hostile client does: keep sending until the server answers.

    Returns (status, response body, bytes sent). Chunked transfer unless `length` is given."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    head += (
        f"Content-Length: {length}\r\n" if length is not None else "Transfer-Encoding: chunked\r\n"
    )
    sock.sendall((head + "\r\n").encode())
    sent = 0
    answered = False
    try:
        for chunk in chunks:
            if select.select([sock], [], [], 0)[0]:
                answered = True
                break
            data = chunk if length is not None else b"%x\r\n%s\r\n" % (len(chunk), chunk)
            sock.sendall(data)
            sent += len(chunk)
        if not answered and length is None:
            sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server closed the connection on us: read what it said
    response = b""
    try:
        while True:
            part = sock.recv(65536)
            if not part:
                break
            response += part
            head_end = response.find(b"\r\n\r\n")
            if head_end >= 0 and b"content-length:" in response[:head_end].lower():
                size = int(
                    next(
                        line.split(b":")[1]
                        for line in response[:head_end].split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    )
                )
                if len(response) >= head_end + 4 + size:
                    break
    finally:
        sock.close()
    status = int(response.split(b" ", 2)[1])
    return status, response[response.find(b"\r\n\r\n") + 4 :], sent


def json_flood(total: int) -> Iterator[bytes]:
    """A syntactically valid JSON document of about `total` bytes, in 1 MiB pieces."""
    yield b'{"sessions": [0'
    piece = b",0" * (MB // 2)
    for _ in range(total // MB):
        yield piece
    yield b"]}"


@pytest.fixture(scope="module")
def served(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[CloudProcess, int]]:
    """`jarvis-cloud serve` as its own process, over a migrated database."""
    home = tmp_path_factory.mktemp("served")
    env = clean_env(home / "jarvis")
    env["DATABASE_URL"] = postgres.create_database("served")
    port = free_port()
    server = CloudProcess(["serve", "--port", str(port)], env, home / "serve.log")
    try:
        server.wait_for_health(f"http://127.0.0.1:{port}")
        yield server, port
    finally:
        assert server.stop(signal.SIGINT) == 0, server.output()


def test_a_100_mb_body_without_a_token_costs_no_memory(
    served: tuple[CloudProcess, int],
) -> None:
    server, port = served
    base = f"http://127.0.0.1:{port}"
    before = server.peak_rss_mb()
    health: list[int] = []
    done = threading.Event()

    def watch_health() -> None:
        while not done.is_set():
            health.append(httpx.get(f"{base}/health", timeout=5).status_code)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch_health)
    watcher.start()
    try:
        status, body, sent = raw_post(port, api.SESSIONS, json_flood(100 * MB))
        declared, declared_body, declared_sent = raw_post(
            port, api.SESSIONS, json_flood(100 * MB), length=100 * MB
        )
    finally:
        done.set()
        watcher.join()
    assert status == 413, body
    assert json.loads(body)["error"]["code"] == "body_too_large"
    assert sent < 2 * api.BODY_LIMITS[api.SESSIONS]  # the server stopped reading early
    assert declared == 413, declared_body
    assert declared_sent < api.BODY_LIMITS[api.SESSIONS]
    assert server.peak_rss_mb() - before < 40, "the body was held in memory"
    assert health
    assert set(health) == {200}


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        (api.PROVISION_CLAIM, api.BODY_LIMITS[api.PROVISION_CLAIM]),
        (api.HEARTBEAT, api.BODY_LIMITS[api.HEARTBEAT]),
        (api.TOOL_CALL.format(name="get_opening_hours"), api.BODY_LIMITS[api.TOOL_CALL]),
        ("/auth/login", DEFAULT_BODY_LIMIT),
        ("/api/kiosks", DEFAULT_BODY_LIMIT),
    ],
)
def test_each_route_has_its_own_limit(cloud: CloudServer, path: str, limit: int) -> None:
    just_under = {"pad": "x" * (limit - 20)}
    over = {"pad": "x" * (limit + 1)}
    small = httpx.post(cloud.base_url + path, json=just_under)
    assert small.status_code != 413
    big = httpx.post(cloud.base_url + path, json=over)
    assert big.status_code == 413
    assert big.json()["error"]["code"] == "body_too_large"
    assert big.json()["error"]["details"] == {"limit_bytes": limit}


def test_a_session_batch_may_be_larger_than_a_heartbeat(cloud: CloudServer) -> None:
    body = {"pad": "x" * (2 * api.BODY_LIMITS[api.HEARTBEAT])}
    assert httpx.post(cloud.base_url + api.HEARTBEAT, json=body).status_code == 413
    assert httpx.post(cloud.base_url + api.SESSIONS, json=body).status_code == 401


def test_chunked_bodies_are_counted_too(cloud: CloudServer) -> None:
    status, body, _ = raw_post(cloud.port, api.HEARTBEAT, iter([b"x" * 4096] * 64))
    assert status == 413, body
    assert json.loads(body)["error"]["details"] == {"limit_bytes": api.BODY_LIMITS[api.HEARTBEAT]}


def test_the_limit_is_checked_while_reading() -> None:
    """The middleware on its own: no more than the limit (and one chunk) is ever read."""
    import asyncio

    from cloud_api.bodylimit import BodyLimit

    read = 0
    reached_app = False

    async def app(scope: object, receive: object, send: object) -> None:
        nonlocal reached_app
        reached_app = True

    async def receive() -> dict[str, object]:
        nonlocal read
        read += 1000
        return {"type": "http.request", "body": b"x" * 1000, "more_body": True}

    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    limited = BodyLimit(app, default=10_000, limits={"/big/{name}": 50_000})
    scope = {"type": "http", "path": "/anything", "headers": [], "method": "POST"}
    asyncio.run(limited(scope, receive, send))  # type: ignore[arg-type]
    assert sent[0]["status"] == 413
    assert read == 11_000
    assert not reached_app
    assert limited.limit_for("/big/x") == 50_000
    assert limited.limit_for("/big/x/y") == 10_000
