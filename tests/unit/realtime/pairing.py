"""The kiosk's Realtime core and the simulator's session, paired through a fake network.

Both sides are sans-I/O, so a conversation runs on a virtual clock in 10 ms steps, with no
event loop and no sleeps (h11's tests pair two connections the same way). The speaker plays
in real time on that clock, so "played ms" at a barge-in is exact and known.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from contract.kiosk_api import EndReason, ToolCallResponse
from kiosk_agent.core.realtime import (
    Action,
    FinishAudio,
    FlushPlayback,
    PlayAudio,
    RealtimeSession,
    Reconnect,
    RunTool,
    SendEvent,
    SessionEnded,
    SessionLimits,
)
from simulator.config import default_session, merge_session
from simulator.model import ScriptProgress
from simulator.responses import Pacing
from simulator.script import Script
from simulator.session import SimulatedSession
from simulator.voice import Voice, VoiceKind

STEP_S = 0.01
FRAME = 480  # bytes of 10 ms at 24 kHz PCM16


@dataclass
class VirtualSpeaker:
    """Plays queued audio in real time on the virtual clock, item after item."""

    queue: deque[tuple[str, int]] = field(default_factory=deque)  # (item, ms left)
    played: dict[str, float] = field(default_factory=dict)
    first_played_at: dict[str, float] = field(default_factory=dict)

    def play(self, item_id: str, pcm: bytes) -> None:
        self.queue.append((item_id, len(pcm) // 48))

    def advance(self, now: float, step_s: float) -> None:
        budget = step_s * 1000
        while budget > 0 and self.queue:
            item_id, left = self.queue[0]
            take = min(budget, left)
            self.first_played_at.setdefault(item_id, now)
            self.played[item_id] = self.played.get(item_id, 0) + take
            budget -= take
            if take == left:
                self.queue.popleft()
            else:
                self.queue[0] = (item_id, left - take)

    def flush(self) -> None:
        self.queue.clear()

    @property
    def playing(self) -> bool:
        return bool(self.queue)

    def played_ms(self, item_id: str) -> int:
        return int(self.played.get(item_id, 0))


@dataclass
class Pairing:
    script: Script
    session: dict[str, Any]
    pacing: Pacing = field(default_factory=Pacing)
    limits: SessionLimits = field(default_factory=lambda: SessionLimits(idle_timeout_s=8))
    tool_delay_s: float = 0.3
    tool_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    now: float = 0.0
    server_events: list[dict[str, Any]] = field(default_factory=list)
    speaker: VirtualSpeaker = field(default_factory=VirtualSpeaker)
    flushes: list[tuple[str, int]] = field(default_factory=list)
    ended: SessionEnded | None = None

    def __post_init__(self) -> None:
        self._effective = merge_session(
            default_session("gpt-realtime-mini", "sess_pair", 0), self.session
        )
        self._voice = Voice(VoiceKind.TONE, self.script.language)
        self._progress = ScriptProgress(self.script)
        self.servers: list[SimulatedSession] = []
        self._reconnect_at: float | None = None
        self._open_server()
        self.kiosk = RealtimeSession(
            session=self.session,
            model="gpt-realtime-mini",
            now=0.0,
            started_at=datetime(2026, 3, 2, tzinfo=UTC),
            limits=self.limits,
        )
        self._mic: deque[bytes] = deque()
        self._tools: list[tuple[float, RunTool]] = []
        self._deliver(self.kiosk.connected(0.0))

    def _open_server(self) -> None:
        self.server = SimulatedSession(
            session=self._effective,
            progress=self._progress,
            voice=self._voice,
            pacing=self.pacing,
            now=self.now,
        )
        self.servers.append(self.server)
        self._connected = True

    def say(self, pcm: bytes) -> None:
        """The member speaks (queued after what they are already saying)."""
        for i in range(0, len(pcm), FRAME):
            self._mic.append(pcm[i : i + FRAME].ljust(FRAME, b"\0"))

    def run(self, seconds: float) -> None:
        end = self.now + seconds
        while self.now < end and self.ended is None:
            self.step()

    def run_until_quiet(self, quiet_s: float = 1.0, limit_s: float = 60.0) -> None:
        """Until nothing has happened for ``quiet_s`` (or the session ended)."""
        end = self.now + limit_s
        quiet_since = self.now
        while self.ended is None and self.now < end and self.now - quiet_since < quiet_s:
            seen = len(self.server_events)
            self.step()
            busy = (
                self.speaker.playing
                or self._mic
                or self._tools
                or self.server.responding
                or self._reconnect_at is not None
                or len(self.server_events) > seen
            )
            if busy:
                quiet_since = self.now

    def step(self) -> None:
        self.now = round(self.now + STEP_S, 6)
        self.speaker.advance(self.now, STEP_S)
        if self._reconnect_at is not None and self._reconnect_at <= self.now:
            self._reconnect_at = None
            self._open_server()
            self._deliver(self.kiosk.connected(self.now))
        frame = self._mic.popleft() if self._mic else bytes(FRAME)
        self._deliver(self.kiosk.microphone(frame, self.now))
        if self._connected:
            for event in self.server.poll(self.now):
                self.server_events.append(event)
                self._deliver(self.kiosk.receive(json.dumps(event), self.now))
            close = self.server.close
            if close is not None:
                self._connected = False
                if close.abrupt:  # no close frame: the socket just fails
                    lost = self.kiosk.connection_lost(self.now, None, "connection lost")
                else:
                    lost = self.kiosk.connection_lost(self.now, close.code, close.reason)
                self._deliver(lost)
        for item_id in self.kiosk.awaiting_playback():
            if item_id in self.speaker.first_played_at:
                self.kiosk.first_sample_played(item_id, self.speaker.first_played_at[item_id])
        due = [t for t in self._tools if t[0] <= self.now]
        self._tools = [t for t in self._tools if t[0] > self.now]
        for _, call in due:
            output = self.tool_outputs.get(call.name)
            result = (
                ToolCallResponse(ok=True, output=output)
                if output is not None
                else ToolCallResponse(ok=False, error=f"no tool {call.name}")
            )
            self._deliver(self.kiosk.tool_finished(call.call_id, result, self.now))
        self._deliver(self.kiosk.tick(self.now, self.speaker.playing))

    def end(self, reason: EndReason) -> None:
        self._deliver(self.kiosk.end(reason, self.now))

    def _deliver(self, actions: list[Action]) -> None:
        for action in actions:
            match action:
                case SendEvent(data=data):
                    if self._connected:
                        self.server.receive(data, self.now)
                case PlayAudio(item_id=item_id, pcm=pcm):
                    self.speaker.play(item_id, pcm)
                case FinishAudio():
                    pass
                case FlushPlayback(item_id=item_id):
                    self.speaker.flush()
                    played = self.speaker.played_ms(item_id)
                    self.flushes.append((item_id, played))
                    self._deliver(self.kiosk.playback_flushed(item_id, played, self.now))
                case RunTool():
                    self._tools.append((self.now + self.tool_delay_s, action))
                case Reconnect(delay_s=delay_s):
                    self._reconnect_at = self.now + delay_s
                case SessionEnded():
                    self.ended = action
                case _:
                    pass

    def server_usage(self) -> dict[str, int]:
        """Token usage summed over the server's own `response.done` events."""
        totals = dict.fromkeys(("text_in", "audio_in", "cached", "text_out", "audio_out"), 0)
        for event in self.server_events:
            if event["type"] != "response.done":
                continue
            usage = event["response"]["usage"]
            given, made = usage["input_token_details"], usage["output_token_details"]
            totals["text_in"] += given["text_tokens"]
            totals["audio_in"] += given["audio_tokens"]
            totals["cached"] += given["cached_tokens"]
            totals["text_out"] += made["text_tokens"]
            totals["audio_out"] += made["audio_tokens"]
        return totals
