"""Live updates: Postgres NOTIFY → each open dashboard, re-read under its own claims → SSE.

One LISTEN connection per process receives `jarvis_dashboard` notifications carrying only
(kind, id, gym id). Every open page has a queue; for each notification about a gym it may
see, the page's stream re-reads the alert or kiosk in a transaction under the viewer's
claims and sends what RLS returned — nothing at all when RLS returns nothing. A stream ends
when the viewer's access token expires; the browser reconnects (refreshing the token).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg

from cloud_api.services import Services

log = logging.getLogger("jarvis.cloud.live")
CHANNEL = "jarvis_dashboard"
QUEUE_SIZE = 256


@dataclass(frozen=True)
class Change:
    kind: str  # alert | kiosk
    id: UUID
    gym_id: UUID


def parse(payload: str) -> Change | None:
    try:
        data = json.loads(payload)
        return Change(str(data["kind"]), UUID(str(data["id"])), UUID(str(data["gym_id"])))
    except (ValueError, KeyError, TypeError):
        log.warning("ignoring a malformed dashboard notification")
        return None


class LiveHub:
    """Fans notifications out to subscribers; reconnects its LISTEN connection on failure."""

    def __init__(self, services: Services) -> None:
        self._conninfo = services.settings.api_database_url or ""
        self._subscribers: set[asyncio.Queue[Change | None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    async def start(self) -> None:
        self._listening = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="dashboard-live")

    async def stop(self) -> None:
        for queue in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)  # end every open stream
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wait_listening(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        await asyncio.wait_for(self._listening.wait(), timeout)

    async def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True
                ) as conn:
                    await conn.execute(f"listen {CHANNEL}")
                    self._listening.set()
                    delay = 0.5
                    async for notify in conn.notifies():
                        change = parse(notify.payload)
                        if change is not None:
                            self.publish(change)
            except asyncio.CancelledError:
                raise
            except psycopg.Error as exc:
                self._listening.clear()
                log.warning("dashboard live updates paused (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    def publish(self, change: Change) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(change)
            except asyncio.QueueFull:
                log.warning("a dashboard stream is not reading: dropping an update for it")

    @contextlib.asynccontextmanager
    async def subscription(self) -> AsyncIterator[asyncio.Queue[Change | None]]:
        queue: asyncio.Queue[Change | None] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)


async def next_change(queue: asyncio.Queue[Change | None], expires_at: float) -> Change | None:
    """The next change; None when the hub stops or the viewer's token expires."""
    remaining = expires_at - time.time()
    if remaining <= 0:
        return None
    try:
        return await asyncio.wait_for(queue.get(), timeout=remaining)
    except TimeoutError:
        return None


def event_payload(kind: str, data: dict[str, Any]) -> str:
    return json.dumps({"kind": kind, **data}, default=str, separators=(",", ":"))
