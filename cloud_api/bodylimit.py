"""Request body limits, enforced while the body is read: a body over its route's limit is
answered with 413 as soon as the limit is passed, before any token is checked or any JSON
parsed, and the rest of it is never read.

Without this, a 100 MB body is read whole (and parsed) before the handler even looks at the
token: a few such requests exhaust the API's memory. Limits are per route (a claim or a
heartbeat is small, a batch of session records is not); see `contract.kiosk_api.BODY_LIMITS`.

Why not FastAPI's own `max_body_size`: when a declared Content-Length is over the limit it
answers a plain-text 413 that bypasses the app's error handlers (every error here has one
JSON shape), and it keeps the connection open to drain a body nobody will read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from re import Pattern

from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cloud_api.errors import error_body
from contract.errors import HTTP_STATUS, ErrorCode


class BodyLimit:
    """ASGI middleware: refuse a request body larger than its route's limit with 413.

    The body is read here, chunk by chunk, up to the limit, then handed to the app unchanged.
    A declared `Content-Length` over the limit is refused before one byte is read; a chunked
    body is refused as soon as it passes the limit. The connection is then closed, so the
    client cannot keep streaming into it."""

    def __init__(self, app: ASGIApp, *, default: int, limits: Mapping[str, int]) -> None:
        self.app = app
        self.default = default
        self._routes: list[tuple[Pattern[str], int]] = [
            (compile_path(path)[0], limit) for path, limit in limits.items()
        ]

    def limit_for(self, path: str) -> int:
        for pattern, limit in self._routes:
            if pattern.match(path):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away while sending
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _refuse(send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # http.disconnect, when the client goes

        await self.app(scope, replay, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, limit: int) -> None:
    code = ErrorCode.BODY_TOO_LARGE
    body = json.dumps(
        error_body(
            code,
            f"The request body is larger than this call accepts ({limit} bytes): "
            "send less at a time.",
            {"limit_bytes": limit},
        )
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": HTTP_STATUS[code],
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
