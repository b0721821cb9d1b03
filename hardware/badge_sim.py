"""Simulated badge reader for development, the demo and tests.

Badges come from any mix of: standard input (one per line), a named pipe (``echo 04A23B12 >
/run/jarvis/badge``), and a small HTTP endpoint on loopback (``curl -d 04A23B12
http://127.0.0.1:8765/badge``). They go through the same normalization and debounce as a real
reader's, so a demo exercises the same path as a kiosk.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import stat
import sys
import threading
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO, Self

from hardware.badge_health import ReaderState
from hardware.badge_reader import BadgeRead, BadgeReaderError, QueuedBadgeReader
from hardware.settings import BadgeReaderSettings

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024
_HTTP_ANSWER_TIMEOUT_S = 5.0


class SimulatedBadgeReader(QueuedBadgeReader):
    """Badges typed, piped or posted; see the module docstring."""

    def __init__(self, settings: BadgeReaderSettings, *, stdin: BinaryIO | None = None) -> None:
        sim = settings.simulated
        sources = []
        if sim.stdin:
            sources.append("stdin")
        if sim.pipe_path is not None:
            sources.append(f"pipe {sim.pipe_path}")
        if sim.http_port is not None:
            sources.append(f"http {sim.http_host}:{sim.http_port}")
        if not sources:
            raise BadgeReaderError(
                "the simulated reader has no source: enable stdin, or set a pipe path or an "
                "HTTP port"
            )
        super().__init__(f"simulated:{'+'.join(sources)}", settings)
        self._sim = sim
        self._stdin = stdin
        self._server: ThreadingHTTPServer | None = None
        self._server_thread: threading.Thread | None = None
        self._pipe_fd: int | None = None

    @property
    def http_address(self) -> tuple[str, int] | None:
        """Where the HTTP endpoint listens once open (the real port when 0 was asked)."""
        if self._server is None:
            return None
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    async def __aenter__(self) -> Self:
        # Sources are opened before returning so a writer can use them at once, and so a
        # port in use or a bad pipe path fails here, loudly, rather than in the background.
        if self._sim.pipe_path is not None:
            self._pipe_fd = _open_fifo(self._sim.pipe_path)
        if self._sim.http_port is not None:
            self._start_http(asyncio.get_running_loop())
        return await super().__aenter__()

    async def aclose(self) -> None:
        await super().aclose()
        server, self._server = self._server, None
        if server is not None:
            await asyncio.to_thread(server.shutdown)
            server.server_close()
        if self._pipe_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._pipe_fd)
            self._pipe_fd = None

    async def _attach(self) -> None:
        streams: list[Awaitable[None]] = []
        if self._sim.stdin:
            stdin = self._stdin if self._stdin is not None else _standard_input()
            if stdin is None:
                logger.warning("%s: there is no standard input to read", self.description)
            else:
                streams.append(self._read_lines(stdin, "standard input"))
        if self._pipe_fd is not None:
            pipe = os.fdopen(self._pipe_fd, "rb", buffering=0, closefd=False)
            streams.append(self._read_lines(pipe, str(self._sim.pipe_path)))
        self._connected()
        self._set_state(ReaderState.READY, f"listening on {self.description.split(':', 1)[1]}")
        await asyncio.gather(*streams)
        await asyncio.Event().wait()  # HTTP-only, or all streams ended: keep serving

    async def _read_lines(self, stream: BinaryIO, name: str) -> None:
        loop = asyncio.get_running_loop()
        if not _is_streamable(stream):
            # A regular file redirected to stdin never blocks: read it whole.
            for line in stream.read().splitlines():
                self._offer_line(line)
            return
        reader = asyncio.StreamReader()
        # A duplicate descriptor, so closing the transport never closes the caller's file
        # (standard input). The transport makes it non-blocking, and a terminal left that
        # way breaks the shell after the kiosk exits, so the mode is put back, through the
        # caller's descriptor: the duplicate shares the mode, and the transport closes it
        # at end of input.
        pipe = os.fdopen(os.dup(stream.fileno()), "rb", buffering=0)
        was_blocking = os.get_blocking(stream.fileno())
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
        try:
            while line := await reader.readline():
                self._offer_line(line)
        finally:
            with contextlib.suppress(OSError):
                os.set_blocking(stream.fileno(), was_blocking)
            transport.close()
        logger.info("%s: %s closed", self.description, name)

    def _offer_line(self, line: bytes) -> BadgeRead | str | None:
        """The read, the reason it was refused, or None for a blank or comment line."""
        text = line.decode("utf-8", errors="replace").strip()
        if not text or text.startswith("#"):
            return None
        return self._offer(text)

    def _start_http(self, loop: asyncio.AbstractEventLoop) -> None:
        offer: Callable[[bytes], BadgeRead | str | None] = self._offer_line

        async def offer_in_loop(line: bytes) -> BadgeRead | str | None:
            return offer(line)

        def submit(line: bytes) -> BadgeRead | str | None:
            future = asyncio.run_coroutine_threadsafe(offer_in_loop(line), loop)
            return future.result(_HTTP_ANSWER_TIMEOUT_S)

        handler = type("BadgeHandler", (_BadgeHandler,), {"submit": staticmethod(submit)})
        try:
            self._server = ThreadingHTTPServer(
                (self._sim.http_host, self._sim.http_port or 0), handler
            )
        except OSError as exc:
            raise BadgeReaderError(
                f"cannot listen on {self._sim.http_host}:{self._sim.http_port} for simulated "
                f"badges: {exc.strerror}; pick another port"
            ) from exc
        self._server.daemon_threads = True
        self._server_thread = threading.Thread(
            target=self._server.serve_forever, name="simulated badge http", daemon=True
        )
        self._server_thread.start()


class _BadgeHandler(BaseHTTPRequestHandler):
    """``POST /badge`` with the badge as the body (text, or JSON ``{"badge": "..."}``)."""

    submit: Callable[[bytes], BadgeRead | str | None]

    def do_POST(self) -> None:
        if self.path.rstrip("/") != "/badge":
            self._answer(HTTPStatus.NOT_FOUND, {"error": "POST badges to /badge"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "a badge is short"})
            return
        body = self.rfile.read(length)
        if self.headers.get_content_type() == "application/json":
            try:
                body = str(json.loads(body)["badge"]).encode()
            except (ValueError, KeyError, TypeError):
                self._answer(HTTPStatus.BAD_REQUEST, {"error": 'send {"badge": "04A23B12"}'})
                return
        outcome = self.submit(body)
        if isinstance(outcome, BadgeRead):
            self._answer(HTTPStatus.OK, {"badge_id": outcome.badge_id, "raw": outcome.raw})
        elif outcome is None:
            self._answer(HTTPStatus.BAD_REQUEST, {"error": "send a badge id, e.g. 04A23B12"})
        else:
            self._answer(HTTPStatus.UNPROCESSABLE_ENTITY, {"error": outcome})

    def _answer(self, status: HTTPStatus, payload: dict[str, object]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("simulated badge http: " + format, *args)


def _open_fifo(path: Path) -> int:
    """Open (creating if needed) the named pipe without blocking and without ever hitting EOF.

    Opening read-write keeps a writer on the pipe, so ``echo`` closing it is not end of file.
    """
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            os.mkfifo(path, 0o620)
        elif not stat.S_ISFIFO(path.stat().st_mode):
            raise BadgeReaderError(
                f"{path} exists and is not a named pipe: remove it or choose another pipe path"
            )
        return os.open(path, os.O_RDWR | os.O_NONBLOCK)
    except PermissionError as exc:
        raise BadgeReaderError(
            f"cannot create or open the badge pipe {path}: permission denied; choose a path "
            "the kiosk's user can write (e.g. under $JARVIS_KIOSK_STATE_DIR)"
        ) from exc


def _standard_input() -> BinaryIO | None:
    """The process's standard input, unless it has none (closed, as some services run)."""
    stdin = sys.stdin
    return None if stdin is None else stdin.buffer


def _is_streamable(stream: BinaryIO) -> bool:
    mode = os.fstat(stream.fileno()).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)
