"""A warm Realtime connection: open and configured before anyone taps, bound to a member at
the tap — how the kiosk greets within 500 ms without weakening the cloud's gate.

Before the tap, :class:`WarmStandby` asks the cloud for a *standby* client secret
(``POST VOICE_STANDBY``: bound to no member, counted per kiosk, refused once the gym's
budget is spent), opens a WebSocket with it and waits for `session.created`. The standby
session has the kiosk's voice and audio formats, neutral instructions, no tools and no turn
detection; no microphone audio is sent on it.

At the tap the member is checked by the cloud exactly as for any session: the voice start
(with ``warm_model``) checks the member, their hourly limit and the gym's budget, records the
start, and returns the member's session configuration — without minting a secret, which
saves the cloud's round trip to OpenAI. Only then is the connection bound to the member:
:meth:`WarmStandby.take` hands it to the conversation, whose first client events are the
member's `session.update` (instructions with their name and memory, tools, turn detection,
transcription) and, right behind it, `response.create` for the greeting. A refused start
leaves the warm connection unused: nothing was said, nothing was spent. The organisation
key never leaves the cloud; the standby secret is as short-lived and as scoped as a
session's.

A connection serves one session. Taking it starts the preparation of the next one
``after_take_s`` later (2 s): the cloud's standby mint and the new connection's handshakes
would otherwise compete with the greeting for the network, the cloud and the kiosk's event
loop (the greeting benchmark's tail, issue 9), and one kiosk holds one session at a time. A warm
connection whose secret would not outlive a whole session (reconnects open new
connections with it) is replaced ahead of time; one the server or the network closes is
replaced at once; failures to prepare one are retried after ``retry_s`` (or the cloud's
``Retry-After``), and meanwhile sessions simply connect after the tap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from openai import AsyncOpenAI, OpenAIError
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from contract.errors import ErrorCode
from contract.kiosk_api import VoiceStandbyResponse
from kiosk_agent.adapters.cloud_errors import CloudError, known_code
from kiosk_agent.core.conversation import StandbySource

logger = logging.getLogger(__name__)

NEEDS_OPERATORS = frozenset(
    {ErrorCode.VOICE_NOT_CONFIGURED, ErrorCode.OPENAI_KEY_REFUSED, ErrorCode.OPENAI_REFUSED_SESSION}
)
"""Refusals no retry fixes soon (the cloud's OpenAI setup): asked again 20 times less often."""
REFRESH_MARGIN_S = 60.0
"""A warm connection is replaced once its secret has less than a session plus this left."""
AFTER_TAKE_S = 2.0
"""Seconds after a tap before the next warm connection is prepared: past the greeting."""


@dataclass
class WarmLine:
    """An open, configured Realtime connection bound to no member yet."""

    client: AsyncOpenAI
    """Holds the standby secret: reconnects during the session open new connections with it."""
    connection: AsyncRealtimeConnection
    model: str
    secret_expires_at: datetime

    async def close(self, timeout_s: float = 2.0) -> None:
        with contextlib.suppress(ConnectionClosed, OSError, TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self.connection.close()
        await self.client.close()


Connector = Callable[[VoiceStandbyResponse, float], Awaitable[WarmLine]]


class WarmStandby:
    """Keeps one :class:`WarmLine` ready; see the module docstring."""

    def __init__(
        self,
        source: StandbySource,
        *,
        session_s: Callable[[], float],
        connect: Connector,
        timeout_s: float = 10.0,
        retry_s: float = 30.0,
        after_take_s: float = AFTER_TAKE_S,
        rng: random.Random | None = None,
    ) -> None:
        """``session_s``: the longest session now (the secret must outlive it);
        ``connect``: opens the connection for a standby answer (``connect_line``)."""
        self._source = source
        self._session_s = session_s
        self._connect = connect
        self._timeout_s = timeout_s
        self._retry_s = retry_s
        self._after_take_s = after_take_s
        self._taken_at: float | None = None
        self._rng = rng or random.Random()
        self._line: WarmLine | None = None
        self._idle: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.prepared = 0
        """Warm connections opened so far."""

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="warm realtime connection")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._retire()

    @property
    def model(self) -> str | None:
        """The model of the warm connection ready now (what the voice start is told)."""
        line = self._line
        return line.model if line is not None and self._fresh(line) else None

    async def take(self, model: str) -> WarmLine | None:
        """The ready connection for this session (None when there is none for ``model``);
        the next one starts being prepared."""
        line = self._line
        if line is None or line.model != model or not self._fresh(line):
            return None
        self._line = None
        self._taken_at = asyncio.get_running_loop().time()
        await self._stop_idle()
        self._changed.set()
        return line

    # -- preparing ------------------------------------------------------------------------

    def _fresh(self, line: WarmLine) -> bool:
        left = (line.secret_expires_at - datetime.now(UTC)).total_seconds()
        return left > self._session_s() + REFRESH_MARGIN_S

    async def _run(self) -> None:
        while True:
            self._changed.clear()
            if self._line is None and self._taken_at is not None:
                hold = self._taken_at + self._after_take_s - asyncio.get_running_loop().time()
                self._taken_at = None
                if hold > 0:
                    await asyncio.sleep(hold)  # the greeting first
            wait = await self._prepare() if self._line is None else self._until_stale()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._changed.wait()
            if self._line is not None and not self._fresh(self._line):
                logger.info("replacing the warm Realtime connection before its key runs out")
                await self._retire()

    def _until_stale(self) -> float:
        line = self._line
        assert line is not None
        left = (line.secret_expires_at - datetime.now(UTC)).total_seconds()
        return max(1.0, left - self._session_s() - REFRESH_MARGIN_S)

    async def _prepare(self) -> float:
        """Open a warm connection; the seconds to wait before looking again."""
        try:
            standby = await self._source.voice_standby(timeout_s=self._timeout_s)
            line = await self._connect(standby, self._timeout_s)
        except CloudError as exc:
            operators = exc.code is not None and known_code(exc.code) in NEEDS_OPERATORS
            wait = exc.retry_after_s or self._jittered() * (20 if operators else 1)
            logger.warning("no warm Realtime connection (%s); again in %.0f s", exc, wait)
            return wait
        except (OSError, TimeoutError, InvalidHandshake, OpenAIError, WarmLineFailed) as exc:
            wait = self._jittered()
            logger.warning("no warm Realtime connection (%s); again in %.0f s", exc, wait)
            return wait
        self._line = line
        self.prepared += 1
        logger.info(
            "a warm Realtime connection is ready (%s): the next tap is greeted on it", line.model
        )
        self._idle = asyncio.create_task(self._watch(line), name="warm realtime idle")
        return self._until_stale()

    def _jittered(self) -> float:
        return self._retry_s * self._rng.uniform(0.5, 1.0)

    async def _watch(self, line: WarmLine) -> None:
        """Read the idle connection (nothing is expected) until it closes."""
        try:
            while True:
                await line.connection.recv_bytes()
        except ConnectionClosed:
            if self._line is line:
                logger.info("the warm Realtime connection closed; opening another")
                self._line = None
                self._changed.set()
                await line.client.close()

    async def _stop_idle(self) -> None:
        idle, self._idle = self._idle, None
        if idle is not None:
            idle.cancel()  # websockets: cancelling recv() loses nothing
            with contextlib.suppress(asyncio.CancelledError):
                await idle

    async def _retire(self) -> None:
        line, self._line = self._line, None
        await self._stop_idle()
        if line is not None:
            await line.close()


class WarmLineFailed(Exception):
    """The standby connection opened but did not come up as a Realtime session."""


async def connect_line(
    standby: VoiceStandbyResponse, timeout_s: float, websocket_base: str
) -> WarmLine:
    """Open the connection of a standby answer and wait for its `session.created`."""
    client = AsyncOpenAI(
        api_key=standby.client_secret,
        base_url=websocket_base.replace("ws", "http", 1),
        websocket_base_url=websocket_base,
        max_retries=0,
    )
    try:
        async with asyncio.timeout(timeout_s):
            connection = await client.realtime.connect(model=standby.model).enter()
            try:
                first = await connection.recv()
            except BaseException:
                with contextlib.suppress(Exception):
                    await connection.close()
                raise
    except BaseException:
        await client.close()
        raise
    if first.type != "session.created":
        await WarmLine(client, connection, standby.model, standby.expires_at).close()
        raise WarmLineFailed(f"the standby connection answered {first.type}, not session.created")
    return WarmLine(client, connection, standby.model, standby.expires_at)
