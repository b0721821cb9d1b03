"""The screen's live feed: the model, and every open page subscribed to its changes.

The agent calls the methods here as things happen (from its event loop); each change is
pushed to every subscriber at once — the page never polls. The microphone's level is sampled
ten times a second, only while the member is being listened to, and sent as its own small
event so the captions are not sent again with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from contract.kiosk_api import MemberCard
from kiosk_agent.core.machine_io import AgentState
from kiosk_agent.screen.model import Mode, ScreenModel

logger = logging.getLogger(__name__)

LEVEL_PERIOD_S = 0.1
_QUEUE = 32  # events a slow page may fall behind on before it is sent the latest state only


class ScreenFeed:
    def __init__(self, model: ScreenModel, level: Callable[[], float | None] | None = None) -> None:
        """``level``: the microphone's level since the last call, 0–1 (None: unknown)."""
        self.model = model
        self._level = level
        self._subscribers: set[asyncio.Queue[tuple[str, Any] | None]] = set()
        self._meter: asyncio.Task[None] | None = None
        self.closing = asyncio.Event()

    # -- the agent's side -------------------------------------------------------------------

    def agent_state(self, state: AgentState) -> None:
        self.model.agent_state(state)
        self._publish()

    def serving(self, member: MemberCard) -> None:
        self.model.serving(member)
        self._publish()

    def conversation(self, kind: str, detail: str = "") -> None:
        self.model.conversation(kind, detail)
        self._publish()

    def announce(self, notice: str, text: str, language: str) -> None:
        self.model.announce(notice, text, language)
        self._publish()

    def identity(self, kiosk: dict[str, str] | None, language: str | None = None) -> None:
        self.model.identity(kiosk, language)
        self._publish()

    # -- the pages' side --------------------------------------------------------------------

    async def events(self) -> AsyncIterator[tuple[str, Any]]:
        """(event name, data) for one page: the state now, then every change, until the
        screen closes."""
        queue: asyncio.Queue[tuple[str, Any] | None] = asyncio.Queue(_QUEUE)
        self._subscribers.add(queue)
        try:
            yield "state", self.model.snapshot()
            while not self.closing.is_set():
                event = await queue.get()
                if event is None:  # the screen is closing
                    return
                yield event
        finally:
            self._subscribers.discard(queue)

    def close(self) -> None:
        self.closing.set()
        for queue in self._subscribers:
            with contextlib.suppress(asyncio.QueueEmpty):
                while True:
                    queue.get_nowait()
            queue.put_nowait(None)
        if self._meter is not None:
            self._meter.cancel()

    # -- plumbing ---------------------------------------------------------------------------

    def _publish(self) -> None:
        self._send("state", self.model.snapshot())
        listening = self.model.mode is Mode.LISTENING and self._level is not None
        if listening and (self._meter is None or self._meter.done()):
            self._meter = asyncio.get_running_loop().create_task(self._sample(), name="level")

    def _send(self, name: str, data: Any) -> None:
        for queue in self._subscribers:
            if queue.full():  # a page that fell behind gets the latest state, not the backlog
                with contextlib.suppress(asyncio.QueueEmpty):
                    while True:
                        queue.get_nowait()
                queue.put_nowait(("state", self.model.snapshot()))
                continue
            queue.put_nowait((name, data))

    async def _sample(self) -> None:
        assert self._level is not None
        while self.model.mode is Mode.LISTENING and not self.closing.is_set():
            try:
                level = self._level()
            except Exception:  # the audio path says what is wrong elsewhere
                level = None
            if self.model.microphone(level):
                self._send("level", {"level": level})
            await asyncio.sleep(LEVEL_PERIOD_S)
