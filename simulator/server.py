"""The simulator's HTTP and WebSocket server: the endpoints the openai SDK uses.

- `POST /v1/realtime/client_secrets` (what `client.realtime.client_secrets.create` posts),
  with `Authorization: Bearer <organisation key>`: validates the session and mints an
  `ek_…` secret.
- `GET /v1/realtime?model=…` upgraded to a WebSocket (what `client.realtime.connect` opens),
  with `Authorization: Bearer <ek_… or organisation key>`: one :class:`SimulatedSession`
  per connection, pumped by :func:`_pump`.
- `POST /v1/chat/completions` and `POST /v1/embeddings` for the conversation analysis
  (simulator/analysis.py).

Errors use OpenAI's shapes: an HTTP error body `{"error": {message, type, param, code}}`,
and on the socket an `error` event; a refused key is answered with an `error` event and
close code 3000 (`invalid_request_error.invalid_api_key`), as api.openai.com does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from contract.pricing import PRICES, UnknownModel, prices_for
from simulator.analysis import AnalysisEndpoints
from simulator.config import check_session, default_session, merge_session
from simulator.errors import HttpRefusal, bearer, json_endpoint, redact
from simulator.keys import DEFAULT_TTL_S, MAX_TTL_S, MIN_TTL_S, ClientSecretStore
from simulator.model import ScriptProgress
from simulator.network import SlowLink, slow_link
from simulator.responses import Pacing
from simulator.script import DEMO_SCRIPT, Script
from simulator.session import SimulatedSession
from simulator.voice import Voice, VoiceKind

log = logging.getLogger("jarvis.simulator")
CLOSE_INVALID_KEY = 3000


@dataclass(frozen=True)
class SimulatorSettings:
    api_key: str
    """The organisation key the simulator accepts (the cloud's OPENAI_API_KEY)."""
    script: Script = DEMO_SCRIPT
    more_scripts: tuple[Script, ...] = ()
    """Later sessions play these in turn (then the first again): several conversations."""
    voice: VoiceKind = VoiceKind.AUTO
    pacing: Pacing = field(default_factory=Pacing)
    default_model: str = "gpt-realtime-mini"
    max_session_s: float = 3600.0
    network_rtt_ms: float = 0.0
    """Round trip between clients and the simulator (a :class:`SlowLink` in front of it);
    the model's time to first audio is ``pacing.response_delay_ms``."""
    analysis_answers: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    """Canned structured answers of /v1/chat/completions, chosen by `[sim:answer=NAME]`."""
    usage_log: Path | None = None
    """Every usage the server reports, appended as one JSON line as its event is sent: what
    the bill is made of, for checking a session record's cost against it."""


class Simulator:
    """Settings, minted secrets and every session served (tests inspect `sessions`)."""

    def __init__(self, settings: SimulatorSettings, clock: Callable[[], float] = time.time) -> None:
        """``clock``: wall time in seconds since the epoch (secrets expire by it)."""
        self.settings = settings
        self.voice = Voice(settings.voice, settings.script.language)
        self.voice.prepare([text for script in self.scripts for text in script.spoken_texts()])
        self._sessions_started = 0
        self.clock = clock
        self.secrets = ClientSecretStore(clock)
        self.sessions: list[SimulatedSession] = []
        self.analysis = AnalysisEndpoints(self._check_org_key, settings.analysis_answers)

    @property
    def scripts(self) -> tuple[Script, ...]:
        return (self.settings.script, *self.settings.more_scripts)

    def next_progress(self) -> ScriptProgress:
        """A new conversation: the next script in turn, once it is used."""
        return ScriptProgress(self._next_script)

    def _next_script(self) -> Script:
        script = self.scripts[self._sessions_started % len(self.scripts)]
        self._sessions_started += 1
        return script

    def routes(self) -> list[BaseRoute]:
        """Client secrets, the Realtime WebSocket, chat completions and embeddings."""
        return [
            Route("/v1/realtime/client_secrets", self._client_secrets, methods=["POST"]),
            WebSocketRoute("/v1/realtime", self._realtime),
            *self.analysis.routes(),
        ]

    def app(self) -> ASGIApp:
        return _with_transport(Starlette(routes=self.routes()))

    # ------------------------------------------------------------------ HTTP

    async def _client_secrets(self, request: Request) -> JSONResponse:
        return await json_endpoint(self._check_org_key, self._mint_answer)(request)

    async def _mint_answer(self, body: dict[str, Any]) -> JSONResponse:
        return JSONResponse(self._mint(body))

    def _check_org_key(self, key: str | None) -> None:
        if key is None:
            raise HttpRefusal(
                401,
                "You didn't provide an API key. You need to provide your API "
                "key in an Authorization header using Bearer auth.",
                None,
            )
        if key != self.settings.api_key:
            raise HttpRefusal(401, redact(f"Incorrect API key provided: {key}."), "invalid_api_key")

    def _mint(self, body: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(body) - {"session", "expires_after"})
        if unknown:
            raise HttpRefusal(
                400, f"Unknown parameter: '{unknown[0]}'.", "unknown_parameter", unknown[0]
            )
        ttl = _ttl(body.get("expires_after"))
        session_in = body.get("session", {"type": "realtime"})
        problem = check_session(session_in)
        if problem is not None:
            raise HttpRefusal(400, problem.message, problem.code, problem.param)
        model = session_in.get("model") or self.settings.default_model
        _check_model(model)
        now = int(self.clock())
        session = merge_session(
            default_session(model, "sess_" + uuid.uuid4().hex[:20], now + ttl), session_in
        )
        progress = self.next_progress()
        secret = self.secrets.mint(session, ttl, progress)
        log.info("client secret minted for model %s (expires in %d s)", model, ttl)
        return {"value": secret.value, "expires_at": int(secret.expires_at), "session": session}

    # ------------------------------------------------------------------ WebSocket

    async def _realtime(self, websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            session = self._open_session(
                bearer(websocket.headers), websocket.query_params.get("model")
            )
        except HttpRefusal as refusal:
            await _refuse(websocket, refusal)
            return
        self.sessions.append(session)
        log.info("realtime session %s opened", session.session["id"])
        with contextlib.suppress(WebSocketDisconnect):
            await _pump(websocket, session, self.settings.usage_log)
        log.info("realtime session %s closed", session.session["id"])

    def _open_session(self, key: str | None, model: str | None) -> SimulatedSession:
        if key is None:
            raise HttpRefusal(401, "You didn't provide an API key.", "invalid_api_key")
        now = int(self.clock())
        if key == self.settings.api_key:
            model = model or self.settings.default_model
            _check_model(model)
            session = default_session(model, "sess_" + uuid.uuid4().hex[:20], now + 3600)
            progress = self.next_progress()
        else:
            secret, expired = self.secrets.find(key)
            if secret is None:
                raise HttpRefusal(
                    401, redact(f"Incorrect API key provided: {key}."), "invalid_api_key"
                )
            if expired:
                raise HttpRefusal(
                    401, "The client secret has expired; mint a new one.", "invalid_api_key"
                )
            session = dict(secret.session, id="sess_" + uuid.uuid4().hex[:20])
            progress = secret.progress
        return SimulatedSession(
            session=session,
            progress=progress,
            voice=self.voice,
            pacing=self.settings.pacing,
            now=time.monotonic(),
            max_duration_s=self.settings.max_session_s,
        )


def _ttl(expires_after: Any) -> int:
    if expires_after is None:
        return DEFAULT_TTL_S
    if not isinstance(expires_after, dict) or expires_after.get("anchor", "created_at") != (
        "created_at"
    ):
        raise HttpRefusal(
            400,
            "Invalid 'expires_after': anchor must be 'created_at'.",
            "invalid_value",
            "expires_after.anchor",
        )
    seconds = expires_after.get("seconds", DEFAULT_TTL_S)
    if not isinstance(seconds, int) or not MIN_TTL_S <= seconds <= MAX_TTL_S:
        raise HttpRefusal(
            400,
            f"Invalid 'expires_after.seconds': expected an integer between "
            f"{MIN_TTL_S} and {MAX_TTL_S}.",
            "invalid_value",
            "expires_after.seconds",
        )
    return seconds


def _check_model(model: str) -> None:
    try:
        prices_for(model)
    except UnknownModel as exc:
        supported = ", ".join(f"'{m}'" for m in PRICES)
        raise HttpRefusal(
            400,
            f"Invalid value: '{model}'. Supported values are: {supported}.",
            "invalid_value",
            "session.model",
        ) from exc


async def _refuse(websocket: WebSocket, refusal: HttpRefusal) -> None:
    event = {
        "type": "error",
        "event_id": "event_" + uuid.uuid4().hex[:20],
        "error": {
            "type": refusal.kind,
            "code": refusal.code,
            "message": refusal.message,
            "param": refusal.param,
            "event_id": None,
        },
    }
    await websocket.send_text(json.dumps(event))
    await websocket.close(CLOSE_INVALID_KEY, f"{refusal.kind}.{refusal.code}")


async def _pump(
    websocket: WebSocket, session: SimulatedSession, usage_log: Path | None = None
) -> None:
    """Client frames into the session, due server events out, until either side closes;
    the usage of each event sent appended to ``usage_log``."""
    inbox: asyncio.Queue[str | bytes | None] = asyncio.Queue()

    async def read() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                await inbox.put(None)
                return
            await inbox.put(message.get("text") or message.get("bytes") or b"")

    reader = asyncio.create_task(read())
    try:
        while True:
            for event in session.poll(time.monotonic()):
                await websocket.send_text(json.dumps(event, ensure_ascii=False))
                if usage_log is not None:
                    _log_usage(usage_log, event, session.session)
            if session.close is not None:
                if session.close.abrupt and await _drop(websocket, inbox):
                    return
                code = 1011 if session.close.abrupt else session.close.code
                await websocket.close(code, session.close.reason)
                return
            wait = max(0.0, session.next_due() - time.monotonic())
            try:
                message = await asyncio.wait_for(inbox.get(), wait)
            except TimeoutError:
                continue
            if message is None:
                return
            try:
                session.receive(message, time.monotonic())
            except Exception:  # a simulator bug must not look like a dropped connection
                log.exception("the simulated session failed on a client event")
                session.server_error()
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await reader


def _log_usage(path: Path, event: dict[str, Any], session: dict[str, Any]) -> None:
    """One line per reported usage: the event's type, the model it is billed at, the usage."""
    if event["type"] == "response.done":
        model, usage = session.get("model"), event["response"].get("usage")
    elif event["type"] == "conversation.item.input_audio_transcription.completed":
        transcription = session.get("audio", {}).get("input", {}).get("transcription") or {}
        model, usage = transcription.get("model"), event.get("usage")
    else:
        return
    line = json.dumps({"event": event["type"], "model": model, "usage": usage})
    with path.open("a", encoding="utf-8") as out:
        out.write(line + "\n")


_TRANSPORT = "jarvis.simulator.transport"


def _with_transport(app: ASGIApp) -> ASGIApp:
    """The app, with each WebSocket's TCP transport in its scope, so a scripted network drop
    can lose the connection without a close frame. ASGI has no message for that; uvicorn's
    protocol object, the owner of the send callable it hands the outermost app, holds the
    transport."""

    async def with_transport(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            protocol = getattr(send, "__self__", None)
            scope[_TRANSPORT] = getattr(protocol, "transport", None)
        await app(scope, receive, send)

    return with_transport


async def _drop(websocket: WebSocket, inbox: asyncio.Queue[str | bytes | None]) -> bool:
    """Lose the connection as a network failure does: what was sent before arrives, then the
    stream ends with no close frame (FIN without a WebSocket close; a reset would discard
    what the client had not read yet). The socket is torn down once the client has noticed,
    or after 2 s. False when the server underneath did not give the transport."""
    transport = websocket.scope.get(_TRANSPORT)
    # asyncio's transport, or uvloop's (not an asyncio.Transport subclass): the same methods.
    if not all(hasattr(transport, m) for m in ("can_write_eof", "write_eof", "abort")):
        return False
    assert transport is not None
    if not transport.can_write_eof():
        return False
    transport.write_eof()
    try:
        async with asyncio.timeout(2.0):
            while await inbox.get() is not None:
                pass  # what the client still sends is lost with the connection
    except TimeoutError:
        pass
    transport.abort()
    return True


@dataclass(frozen=True)
class RunningSimulator:
    simulator: Simulator
    host: str
    port: int
    link: SlowLink | None = None
    """The slow network in front of it (``network_rtt_ms``); ``link.cut()`` drops every
    connection."""

    @property
    def base_url(self) -> str:
        """What to give `OpenAI(base_url=...)` / OPENAI_BASE_URL."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def realtime_url(self) -> str:
        return f"ws://{self.host}:{self.port}/v1/realtime"


def _server(simulator: Simulator, host: str, port: int, *, quiet: bool) -> uvicorn.Server:
    """uvicorn with the sans-I/O websockets protocol (the legacy one is deprecated)."""
    logging_kwargs: dict[str, Any] = (
        {"log_config": None, "log_level": "warning"} if quiet else {"log_level": "info"}
    )
    config = uvicorn.Config(
        simulator.app(),
        host=host,
        port=port,
        ws="websockets-sansio",
        lifespan="off",
        access_log=False,
        **logging_kwargs,
    )
    return uvicorn.Server(config)


@contextlib.asynccontextmanager
async def serve(
    settings: SimulatorSettings,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Callable[[], float] = time.time,
) -> AsyncIterator[RunningSimulator]:
    """Run the simulator in this event loop (port 0: any free port) for the block; behind a
    :class:`~simulator.network.SlowLink` when ``settings.network_rtt_ms`` is set."""
    simulator = Simulator(settings, clock)
    slow = settings.network_rtt_ms > 0
    server = _server(simulator, host, 0 if slow else port, quiet=True)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the simulator stopped while starting")
            await asyncio.sleep(0.005)
        bound = int(server.servers[0].sockets[0].getsockname()[1])
        if not slow:
            yield RunningSimulator(simulator, host, bound)
            return
        async with slow_link(bound, settings.network_rtt_ms, target_host=host, port=port) as link:
            yield RunningSimulator(simulator, host, link.port, link)
    finally:
        server.should_exit = True
        await task


def run(
    host: str = "127.0.0.1",
    port: int = 8100,
    *,
    api_key: str,
    script: Script = DEMO_SCRIPT,
    more_scripts: tuple[Script, ...] = (),
    voice: VoiceKind = VoiceKind.AUTO,
    pacing: Pacing | None = None,
    network_rtt_ms: float = 0.0,
    usage_log: Path | None = None,
) -> None:
    """Serve the simulator until interrupted (what `jarvis-cloud simulator` runs)."""
    settings = SimulatorSettings(
        api_key=api_key,
        script=script,
        more_scripts=more_scripts,
        voice=voice,
        pacing=pacing or Pacing(),
        network_rtt_ms=network_rtt_ms,
        usage_log=usage_log,
    )
    if network_rtt_ms > 0:
        asyncio.run(_serve_forever(settings, host, port))
        return
    simulator = Simulator(settings)
    _announce(simulator, host, port)
    _server(simulator, host, port, quiet=False).run()


def _announce(simulator: Simulator, host: str, port: int) -> None:
    settings = simulator.settings
    extra = f", {settings.network_rtt_ms:g} ms round trips" if settings.network_rtt_ms else ""
    print(  # the command's one line of output before uvicorn's own
        f"OpenAI Realtime simulator on http://{host}:{port}/v1 "
        f"(voice: {simulator.voice.kind.value}, {len(simulator.scripts)} conversation(s), "
        f"{len(settings.script.turns)} scripted turns in the first{extra})",
        flush=True,
    )


async def _serve_forever(settings: SimulatorSettings, host: str, port: int) -> None:
    """The simulator behind its slow link, until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with serve(settings, host, port) as running:
        _announce(running.simulator, host, running.port)
        await stop.wait()
