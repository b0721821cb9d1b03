"""The voice conversation over OpenAI Realtime: a thin asyncio driver of the sans-I/O core.

:class:`RealtimeConversation` implements :class:`kiosk_agent.core.conversation.Conversation`.
It connects with the official openai SDK — ``AsyncOpenAI(api_key=<ek_… client secret>,
websocket_base_url=…).realtime.connect(model=…)``: the SDK sends whatever key it is given
as ``Authorization: Bearer``, so an ephemeral secret works unchanged and the organisation
key never reaches the kiosk. Then it moves bytes between three places and
:class:`~kiosk_agent.core.realtime.RealtimeSession`, which decides everything:

- the socket (server events in, client events out),
- the audio path (:class:`ConversationAudio`, i.e. ``hardware.audio.AudioIO``: 20 ms mic
  frames in; answer audio, flushes and played-ms accounting out),
- the cloud's tools (:class:`~kiosk_agent.core.conversation.ToolRunner`), each call with a
  timeout; a failing or slow tool becomes an error result the model can talk about.

Reconnection follows the core's decisions (jittered backoff, never after a fatal error);
time is ``time.monotonic`` unless a clock is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

from openai import AsyncOpenAI, OpenAIError
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from contract.kiosk_api import (
    EndReason,
    KioskConfig,
    MemberCard,
    ToolCallRequest,
    ToolCallResponse,
    VoiceStartResponse,
)
from hardware.audio import AudioIO, open_audio
from hardware.settings import AudioSettings
from kiosk_agent.adapters.realtime_warm import WarmStandby, connect_line
from kiosk_agent.config import KioskSettings
from kiosk_agent.core.conversation import (
    ConversationError,
    ConversationEvent,
    ConversationFinished,
    ConversationProgress,
    SessionFacts,
    StandbySource,
    ToolRunner,
    WarmConnectionLost,
)
from kiosk_agent.core.realtime import (
    Action,
    Caption,
    FinishAudio,
    FlushPlayback,
    Phase,
    PlayAudio,
    RealtimeFacts,
    RealtimeSession,
    Reconnect,
    RunTool,
    SendEvent,
    SessionEnded,
    SessionLimits,
)

logger = logging.getLogger(__name__)


class MicrophoneFrame(Protocol):
    @property
    def pcm(self) -> bytes: ...


class ConversationAudio(Protocol):
    """What the conversation needs of the audio path (``hardware.audio.AudioIO`` has it)."""

    def frames(self) -> AsyncIterator[MicrophoneFrame]: ...

    def play(self, item_id: str, pcm: bytes) -> bool: ...

    def finish_item(self, item_id: str) -> None: ...

    async def flush(self) -> None: ...

    def played_ms(self, item_id: str) -> int: ...

    @property
    def playing(self) -> bool: ...


AudioSource = Callable[[], Awaitable[ConversationAudio]]
"""How a conversation gets its audio path when it starts (opened once, shared by sessions)."""


def audio_source(audio: ConversationAudio) -> AudioSource:
    """An audio path that is already open."""

    async def get() -> ConversationAudio:
        return audio

    return get


@dataclass(frozen=True, slots=True)
class RealtimeOptions:
    limits: SessionLimits = field(default_factory=SessionLimits)
    tool_timeout_s: float = 10.0
    """A tool that takes longer is answered with an error result."""
    connect_timeout_s: float = 10.0
    configure_timeout_s: float = 10.0
    """Seconds from connecting to `session.updated` before `start` gives up."""
    tick_s: float = 0.01
    """Period of the timer that watches playback (first sample played) and timeouts."""
    close_timeout_s: float = 2.0
    warm_connection: bool = False
    """Keep a warm connection ready before the tap (``realtime_warm``)."""


def websocket_base(realtime_url: str) -> str:
    """`wss://host/v1/realtime?model=…` → `wss://host/v1` (the SDK appends `/realtime`)."""
    parts = urlsplit(realtime_url)
    path = parts.path.rstrip("/")
    if parts.scheme not in ("ws", "wss") or not path.endswith("/realtime"):
        raise ConversationError(
            f"the cloud gave a Realtime URL the kiosk cannot use ({parts.scheme}://"
            f"{parts.netloc}{parts.path}): it must be ws(s)://…/realtime"
        )
    return urlunsplit((parts.scheme, parts.netloc, path[: -len("/realtime")], "", ""))


class RealtimeConversation:
    """One conversation with a member over OpenAI Realtime (or the project's simulator)."""

    def __init__(
        self,
        *,
        session_id: UUID,
        member: MemberCard,
        tools: ToolRunner,
        audio: AudioSource,
        options: RealtimeOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        warm: WarmStandby | None = None,
    ) -> None:
        self.session_id = session_id
        self.member = member
        self.options = options or RealtimeOptions()
        self._tools = tools
        self._audio_source = audio
        self._clock = clock
        self._rng = rng
        self._warm = warm
        self._live: _Live | None = None

    async def start(self, start: VoiceStartResponse) -> None:
        """Connect (or take the warm connection, when the cloud minted no secret), bind the
        session to the member and greet, start listening; ConversationError if not."""
        if self._live is not None:
            raise ConversationError("this conversation was already started")
        member_id = self.member.member_id
        if member_id is None:
            raise ConversationError("a conversation needs a known member (no member id)")
        base = websocket_base(start.realtime_url)
        audio = await self._audio_source()
        first_connection: AsyncRealtimeConnection | None = None
        if start.client_secret is None:
            line = await self._warm.take(start.model) if self._warm is not None else None
            if line is None:
                raise WarmConnectionLost("the warm Realtime connection is no longer there")
            client, first_connection = line.client, line.connection
        else:
            client = AsyncOpenAI(
                api_key=start.client_secret,
                base_url=base.replace("ws", "http", 1),
                websocket_base_url=base,
                max_retries=0,
            )
        core = RealtimeSession(
            session=start.session,
            model=start.model,
            now=self._clock(),
            started_at=datetime.now(UTC),
            limits=self.options.limits,
            rng=self._rng,
        )
        live = self._live = _Live(
            core=core,
            client=client,
            audio=audio,
            model=start.model,
            tools=self._tools,
            tool_request=lambda call_id, arguments: ToolCallRequest(
                session_id=self.session_id,
                member_id=member_id,
                call_id=call_id[:200],
                arguments=arguments,
            ),
            options=self.options,
            clock=self._clock,
            first_connection=first_connection,
        )
        await live.open()

    async def events(self) -> AsyncIterator[ConversationEvent]:
        """Progress (`listening`, `speaking`, `heard`, `said`, `tool`), then the finish."""
        if self._live is None:
            raise ConversationError("the conversation was not started")
        while True:
            event = await self._live.events.get()
            yield event
            if isinstance(event, ConversationFinished):
                return

    async def end(self, reason: EndReason) -> SessionFacts:
        if self._live is not None:
            await self._live.stop(reason)
        return self.facts()

    def facts(self) -> SessionFacts:
        if self._live is None:
            return SessionFacts()
        return self._live.core.snapshot().session_facts()

    @property
    def realtime_facts(self) -> RealtimeFacts | None:
        """Everything the core knows (per-turn latency, truncations...), for tests and bench."""
        return self._live.core.snapshot() if self._live else None


class _Live:
    """A started conversation: the core, its socket, the audio path and the tasks moving
    bytes between them."""

    def __init__(
        self,
        *,
        core: RealtimeSession,
        client: AsyncOpenAI,
        audio: ConversationAudio,
        model: str,
        tools: ToolRunner,
        tool_request: Callable[[str, dict[str, Any]], ToolCallRequest],
        options: RealtimeOptions,
        clock: Callable[[], float],
        first_connection: AsyncRealtimeConnection | None = None,
    ) -> None:
        self.core = core
        self.client = client
        self.audio = audio
        self.model = model
        self.tools = tools
        self.tool_request = tool_request
        self.options = options
        self.clock = clock
        self.events: asyncio.Queue[ConversationEvent] = asyncio.Queue()
        self.connection: AsyncRealtimeConnection | None = None
        self.configured = asyncio.Event()
        self.finished = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()
        self.speaking: set[str] = set()
        self.shutdown: asyncio.Task[None] | None = None
        self.stopper: asyncio.Task[None] | None = None
        self.first_connection = first_connection
        """A warm connection, open already: the first one the session uses."""

    # ------------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        self.spawn(self.run_connection(), "realtime connection")
        patience = self.options.connect_timeout_s + self.options.configure_timeout_s
        try:
            async with asyncio.timeout(patience):
                await _first(self.configured.wait(), self.finished.wait())
        except TimeoutError:
            await self.stop(EndReason.REALTIME_ERROR, "not ready in time")
            raise ConversationError(
                f"the Realtime session was not ready within {patience:.0f} s"
            ) from None
        if not self.configured.is_set():
            await self.stop(None)
            detail = self.core.facts.end_detail or "the connection failed"
            raise ConversationError(f"the Realtime session could not start: {detail}")
        self.spawn(self.pump_microphone(), "realtime microphone")
        self.spawn(self.watch(), "realtime timer")
        self.events.put_nowait(ConversationProgress("listening"))

    async def stop(self, reason: EndReason | None, detail: str = "") -> None:
        """End the core (when ``reason``: ended from outside), then shut down once: cancel
        every task, close the socket and the client."""
        if reason is not None and self.core.phase is not Phase.ENDED:
            await self.apply(self.core.end(reason, self.clock(), detail))
        self.finished.set()
        if self.shutdown is None:
            self.shutdown = asyncio.create_task(self._shut_down(flush=reason is not None))
        await asyncio.shield(self.shutdown)

    def stop_soon(self) -> None:
        if self.shutdown is None and self.stopper is None:
            self.stopper = asyncio.create_task(self.stop(None), name="realtime stop")

    async def _shut_down(self, *, flush: bool) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.close_connection()
        await self.client.close()
        if flush and self.audio.playing:
            await self.audio.flush()  # ended from outside: stop talking at once

    async def close_connection(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            with contextlib.suppress(ConnectionClosed, OSError, TimeoutError):
                async with asyncio.timeout(self.options.close_timeout_s):
                    await connection.close()

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if task.cancelled() or (exc := task.exception()) is None:
            return
        logger.error("%s failed: %s", task.get_name(), exc, exc_info=exc)
        for action in self.core.failed(self.clock(), f"internal error: {exc}"):
            if isinstance(action, SessionEnded):
                self.events.put_nowait(ConversationFinished(action.reason, action.detail))
        self.finished.set()
        self.stop_soon()

    # ------------------------------------------------------------------ tasks

    async def run_connection(self) -> None:
        """Connect, read until the socket closes, and reconnect as the core decides."""
        delay = 0.0
        while not self.finished.is_set():
            if delay:
                await asyncio.sleep(delay)
            warm, self.first_connection = self.first_connection, None
            try:
                if warm is not None:
                    connection = warm
                else:
                    async with asyncio.timeout(self.options.connect_timeout_s):
                        connection = await self.client.realtime.connect(model=self.model).enter()
            except InvalidStatus as exc:
                status = exc.response.status_code
                actions = self.core.connect_failed(self.clock(), status, f"HTTP {status}")
            except (OSError, TimeoutError, InvalidHandshake, OpenAIError) as exc:
                actions = self.core.connect_failed(self.clock(), None, f"cannot connect: {exc}")
            else:
                self.connection = connection
                await self.apply(self.core.connected(self.clock()))
                actions = await self.read(connection)
                await self.close_connection()
            delay = 0.0
            for action in actions:
                if isinstance(action, Reconnect):
                    logger.warning(
                        "Realtime connection lost; reconnecting in %.1f s (attempt %d)",
                        action.delay_s,
                        action.attempt,
                    )
                    delay = action.delay_s
            await self.apply([a for a in actions if not isinstance(a, Reconnect)])
            if not delay:
                return

    async def read(self, connection: AsyncRealtimeConnection) -> list[Action]:
        while not self.finished.is_set():
            try:
                message = await connection.recv_bytes()
            except ConnectionClosed as exc:
                code, reason = (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (None, "")
                return self.core.connection_lost(self.clock(), code, reason or "connection lost")
            await self.apply(self.core.receive(message, self.clock()))
            if self.core.phase is Phase.ACTIVE:
                self.configured.set()
        return []

    async def pump_microphone(self) -> None:
        async for frame in self.audio.frames():
            if self.finished.is_set():
                return
            await self.apply(self.core.microphone(frame.pcm, self.clock()))

    async def watch(self) -> None:
        """Playback progress and the passing of time, every `tick_s`."""
        while not self.finished.is_set():
            now = self.clock()
            for item_id in self.core.awaiting_playback():
                if self.audio.played_ms(item_id) > 0:
                    self.core.first_sample_played(item_id, now)
            await self.apply(self.core.tick(now, self.audio.playing))
            await asyncio.sleep(self.options.tick_s)

    async def run_tool(self, action: RunTool) -> None:
        self.events.put_nowait(ConversationProgress("tool", action.name))
        request = self.tool_request(action.call_id, action.arguments)
        try:
            async with asyncio.timeout(self.options.tool_timeout_s):
                result = await self.tools.run_tool(action.name, request)
        except TimeoutError:
            result = ToolCallResponse(
                ok=False, error=f"the tool {action.name} did not answer in time"
            )
        except Exception as exc:  # any failure of the tool is the model's to explain
            logger.warning("tool %s failed: %s", action.name, exc)
            result = ToolCallResponse(ok=False, error=f"the tool {action.name} failed")
        await self.apply(self.core.tool_finished(action.call_id, result, self.clock()))

    # ------------------------------------------------------------------ actions

    async def apply(self, actions: list[Action]) -> None:
        for action in actions:
            await self.do(action)

    async def do(self, action: Action) -> None:
        match action:
            case SendEvent(data=data):
                connection = self.connection
                if connection is not None:
                    # A closed socket is noticed, and handled, by the reader.
                    with contextlib.suppress(ConnectionClosed):
                        await connection.send_raw(data)
            case PlayAudio(item_id=item_id, pcm=pcm):
                if item_id not in self.speaking:
                    self.speaking.add(item_id)
                    self.events.put_nowait(ConversationProgress("speaking"))
                self.audio.play(item_id, pcm)
            case FinishAudio(item_id=item_id):
                self.audio.finish_item(item_id)
            case FlushPlayback(item_id=item_id):
                await self.audio.flush()
                played = self.audio.played_ms(item_id)
                self.events.put_nowait(ConversationProgress("listening", "interrupted"))
                await self.apply(self.core.playback_flushed(item_id, played, self.clock()))
            case RunTool():
                self.spawn(self.run_tool(action), f"tool {action.name}")
            case Caption(role=role, text=text, final=final):
                kind = {
                    ("user", True): "heard",
                    ("user", False): "hearing",
                    ("assistant", True): "said",
                    ("assistant", False): "saying",
                }[(role, final)]
                self.events.put_nowait(ConversationProgress(kind, text))
            case SessionEnded(reason=reason, detail=detail):
                self.finished.set()
                self.events.put_nowait(ConversationFinished(reason, detail or None))
                self.stop_soon()
            case Reconnect():
                pass  # the connection loop waits and reconnects


async def _first(*waits: Any) -> None:
    """Wait until the first of several awaitables finishes; cancel the others."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class RealtimeConversations:
    """The factory the agent calls per session; owns the audio path across sessions."""

    def __init__(
        self,
        audio_settings: AudioSettings,
        *,
        audio: ConversationAudio | None = None,
        options: RealtimeOptions | None = None,
    ) -> None:
        self._audio_settings = audio_settings
        self._audio = audio
        self._opened: AudioIO | None = None
        self._opening = asyncio.Lock()
        self.options = options or RealtimeOptions()
        self.standby: WarmStandby | None = None

    def apply_config(self, config: KioskConfig) -> None:
        """The cloud's limits for the conversations started from now on."""
        limits = replace(
            self.options.limits,
            idle_timeout_s=float(config.idle_timeout_s),
            max_session_s=float(config.max_session_s),
        )
        self.options = replace(self.options, limits=limits)

    def __call__(
        self, session_id: UUID, member: MemberCard, tools: ToolRunner
    ) -> RealtimeConversation:
        return RealtimeConversation(
            session_id=session_id,
            member=member,
            tools=tools,
            audio=self.audio,
            options=self.options,
            warm=self.standby,
        )

    def level(self) -> float | None:
        """The microphone's level since the last call, 0 (silence, -60 dBFS) to 1 (0 dBFS);
        None before the audio path is open."""
        opened = self._opened
        if opened is None or opened.capture is None:
            return None
        return min(1.0, max(0.0, (opened.level().rms_dbfs + 60.0) / 60.0))

    def warm_model(self) -> str | None:
        """The model of the warm connection ready now, if any (told to the voice start)."""
        return self.standby.model if self.standby is not None else None

    async def attach_cloud(self, source: StandbySource | None) -> None:
        """The kiosk is connected to a cloud (``source``), or no longer is (None): prepare
        what can be before the first tap — the audio devices, and a warm connection when
        the options ask for one."""
        if self.standby is not None:
            await self.standby.aclose()
            self.standby = None
        if source is None:
            return
        with contextlib.suppress(Exception):  # the first conversation reports audio trouble
            await self.audio()
        if self.options.warm_connection:
            self.standby = WarmStandby(
                source,
                session_s=lambda: self.options.limits.max_session_s,
                connect=lambda standby, timeout_s: connect_line(
                    standby, timeout_s, websocket_base(standby.realtime_url)
                ),
                timeout_s=self.options.connect_timeout_s,
            )
            self.standby.start()

    async def audio(self) -> ConversationAudio:
        """The audio path, opened by the first conversation that needs it."""
        async with self._opening:
            if self._audio is None:
                opened = open_audio(self._audio_settings)
                await opened.start()
                self._opened = opened
                self._audio = opened
            return self._audio

    async def aclose(self) -> None:
        """Close the warm connection and the audio devices this factory opened."""
        await self.attach_cloud(None)
        opened, self._opened = self._opened, None
        if opened is not None:
            await opened.stop()
            self._audio = None


def conversation_factory(
    settings: KioskSettings,
    *,
    audio: ConversationAudio | None = None,
    options: RealtimeOptions | None = None,
) -> RealtimeConversations:
    """What ``kiosk_agent.app`` plugs in (see :mod:`kiosk_agent.core.conversation`)."""
    if options is None:
        options = RealtimeOptions(warm_connection=settings.session.warm_connection)
    return RealtimeConversations(settings.audio, audio=audio, options=options)
