"""The kiosk's screen, served by the agent on 127.0.0.1: one page, its script and style, and
a server-sent event stream of what to show (Starlette, sse-starlette, uvicorn).

Chromium in kiosk mode shows ``http://127.0.0.1:<port>/`` full screen on kiosks with a
display (systemd/jarvis-kiosk-screen.service). Nothing comes from the internet: the page's
files ship with the agent (``kiosk_agent/screen/static``). In development, ``POST /badge``
(behind ``SCREEN__SIMULATE_BADGE``) taps a badge from the page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import uvicorn
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from contract.badge import BadgeIdError, normalize_badge_id
from kiosk_agent.screen.feed import ScreenFeed

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
MAX_BADGE_BYTES = 64
_SECURITY_HEADERS = {
    # Nothing from anywhere else: the page's own files, its own event stream.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def screen_app(feed: ScreenFeed, tap: Callable[[str], None] | None) -> Starlette:
    """The page's routes; ``tap`` takes a badge id from the page (development only)."""

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers=_SECURITY_HEADERS)

    async def events(request: Request) -> EventSourceResponse:
        async def stream() -> AsyncIterator[dict[str, str]]:
            async for name, data in feed.events():
                if await request.is_disconnected():
                    return
                yield {"event": name, "data": json.dumps(data, ensure_ascii=False)}

        return EventSourceResponse(stream(), ping=15, headers={"Cache-Control": "no-store"})

    async def badge(request: Request) -> Response:
        if tap is None or not feed.model.simulate_badge:
            return JSONResponse({"error": "simulated badges are off"}, status_code=404)
        raw = (await request.body())[:MAX_BADGE_BYTES].decode("utf-8", "replace").strip()
        try:
            badge_id = normalize_badge_id(raw)
        except BadgeIdError as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        tap(badge_id)
        return JSONResponse({"badge_id": badge_id})

    async def state(request: Request) -> Response:
        return JSONResponse(feed.model.snapshot(), headers={"Cache-Control": "no-store"})

    return Starlette(
        routes=[
            Route("/", index),
            Route("/events", events),
            Route("/state", state),
            Route("/badge", badge, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
    )


class _AgentsServer(uvicorn.Server):
    """uvicorn without its signal handlers: the agent handles SIGTERM and SIGINT itself (and
    stops the screen on its way out)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ScreenServer:
    """uvicorn in the agent's event loop, on ``host``:``port`` (0: any free port)."""

    def __init__(
        self,
        feed: ScreenFeed,
        *,
        host: str = "127.0.0.1",
        port: int = 8610,
        tap: Callable[[str], None] | None = None,
    ) -> None:
        self.feed = feed
        self.host = host
        self._port = port
        config = uvicorn.Config(
            screen_app(feed, tap),
            host=host,
            port=port,
            lifespan="off",
            access_log=False,
            log_config=None,
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
        self._server = _AgentsServer(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        servers = getattr(self._server, "servers", None)
        if servers:
            return int(servers[0].sockets[0].getsockname()[1])
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    async def start(self) -> None:
        """Serve; returns once listening (OSError when the port is taken)."""
        self._task = asyncio.create_task(self._server.serve(), name="screen server")
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise OSError(f"the screen could not listen on {self.host}:{self._port}")
            await asyncio.sleep(0.01)
        logger.info("screen on %s", self.url)

    async def stop(self) -> None:
        self.feed.close()
        task, self._task = self._task, None
        if task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
