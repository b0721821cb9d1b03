"""Realtime turn latency through the simulator, on the kiosk's real audio path.

The kiosk's conversation (openai SDK adapter + sans-I/O core) talks to the project's
Realtime simulator over a local WebSocket. The microphone is a WAV file of a member asking
one question after another (espeak-ng, spaced so each answer is played before the next
question, with the echo gate on as on a kiosk), played through the capture path in real
time; answers go through the playback path to a null speaker paced like a sound card.
For every turn the core records the end of the member's speech (`speech_stopped` arriving
at the kiosk) → the first answer audio received, and → the first answer sample handed to
the speaker. Prints p50/p95 and writes `bench/results/realtime_turn.json`.

It also measures the kiosk's own overhead per turn (issue 9): for every server event, the
wall time from the socket handing the message over to the kiosk being ready for the next one
(parsing, the core, decoding and resampling audio into the playback buffer, events sent
back). Per turn: the events from `speech_stopped` to the first audio delta inclusive (the
overhead on the turn's latency: the answer's first sample is in the playback buffer when it
ends) and every event of the turn up to `response.done` (its whole processing).

    python -m bench.realtime_turn [--turns 40] [--response-delay-ms 0] [--speed 1.0]

The simulator answers at once (no model thinking time unless --response-delay-ms), so the
figures are the kiosk's and the transport's own share of a turn's latency.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import math
import statistics
import tempfile
import time
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import uuid4

from openai import AsyncOpenAI
from openai.resources.realtime.realtime import AsyncRealtimeConnection

from bench.machine import machine
from contract.kiosk_api import (
    EndReason,
    MemberCard,
    MembershipStatus,
    ToolCallRequest,
    ToolCallResponse,
    VoiceStartResponse,
)
from hardware.audio import AudioIO
from hardware.audio.files import NullOutput, WavFileInput
from hardware.settings import AudioBackend, AudioSettings, EchoMode
from kiosk_agent.adapters.realtime import RealtimeConversation, RealtimeOptions, audio_source
from kiosk_agent.core.realtime import SessionLimits, TurnLatency
from simulator import Pacing, Script, ScriptTurn, SimulatorSettings, serve
from simulator.voice import Voice, VoiceKind

RESULTS = Path(__file__).parent / "results" / "realtime_turn.json"
ORG_KEY = "sk-bench-realtime-turn"
QUESTIONS = [
    "Quels sont mes cours demain ?",
    "La salle ferme à quelle heure ?",
    "Il reste de la place au yoga ?",
    "Où sont les vestiaires ?",
    "Merci beaucoup.",
]
ANSWERS = [
    "Demain, tu as spinning à midi.",
    "Ce soir, à vingt-deux heures.",
    "Oui, encore quatre places.",
    "Au fond, à gauche de l'accueil.",
    "Avec plaisir.",
]
GREETING = "Bonjour ! Que puis-je faire pour toi ?"
SESSION: dict[str, Any] = {
    "type": "realtime",
    "instructions": "Tu es JARVIS.",
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "turn_detection": {"type": "server_vad", "threshold": 0.6, "silence_duration_ms": 650},
            "transcription": {"model": "gpt-4o-mini-transcribe", "language": "fr"},
            "noise_reduction": {"type": "far_field"},
        },
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"},
    },
}
SILENCE_MS = 650
ECHO_TAIL_MS = 300
MARGIN_MS = 900


class NoTools:
    async def run_tool(self, name: str, request: ToolCallRequest) -> ToolCallResponse:
        return ToolCallResponse(ok=False, error="no tools in this benchmark")


def member_wav(path: Path, voice: Voice, turns: int) -> float:
    """The member's side of the conversation; returns its length in seconds."""
    pcm = bytearray(silence(len(voice.pcm(GREETING)) // 48 + ECHO_TAIL_MS + MARGIN_MS))
    for n in range(turns):
        answer_ms = len(voice.pcm(ANSWERS[n % len(ANSWERS)])) // 48
        pcm += voice.pcm(QUESTIONS[n % len(QUESTIONS)])
        pcm += silence(SILENCE_MS + answer_ms + ECHO_TAIL_MS + MARGIN_MS)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(24_000)
        wav.writeframes(bytes(pcm))
    return len(pcm) / 48_000


class EventTimer:
    """Times the kiosk's processing of each server event without touching its code: the
    connection's reader calls ``recv_bytes`` again once it has acted on the last message, so
    the time between a message's return and the next call is the kiosk's work on it — in
    wall time, and on-CPU (the event loop thread's CPU time: what the kiosk itself costs,
    without the waits for a core that a busy machine adds)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, float, float]] = []
        """(event type, processing ms wall, processing ms on-CPU) in arrival order."""
        self._pending: tuple[str, int, int] | None = None
        self._original = AsyncRealtimeConnection.recv_bytes

    def __enter__(self) -> EventTimer:
        original = self._original

        async def recv_bytes(connection: AsyncRealtimeConnection) -> bytes:
            self._close()
            message = await original(connection)
            kind = str(json.loads(message).get("type"))
            self._pending = (kind, time.perf_counter_ns(), time.thread_time_ns())
            return message

        AsyncRealtimeConnection.recv_bytes = recv_bytes  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        AsyncRealtimeConnection.recv_bytes = self._original  # type: ignore[method-assign]

    def _close(self) -> None:
        if self._pending is not None:
            kind, at, cpu = self._pending
            wall_ms = (time.perf_counter_ns() - at) / 1e6
            self.events.append((kind, wall_ms, (time.thread_time_ns() - cpu) / 1e6))
            self._pending = None

    def per_turn(self) -> list[dict[str, float | int]]:
        """The member's turns (the greeting has no `speech_stopped`): critical-path and whole
        processing ms (wall and on-CPU), and how many events each covered."""
        turns: list[dict[str, float | int]] = []
        turn: dict[str, float | int] | None = None
        for kind, took, cpu in self.events:
            if kind == "input_audio_buffer.speech_stopped":
                turn = dict.fromkeys(
                    ("to_first_audio_ms", "to_first_audio_cpu_ms", "whole_ms", "whole_cpu_ms"), 0.0
                ) | {"events": 0, "audio": 0}
                turns.append(turn)
            if turn is None:
                continue
            turn["whole_ms"] += took
            turn["whole_cpu_ms"] += cpu
            turn["events"] += 1
            if not turn["audio"]:
                turn["to_first_audio_ms"] += took
                turn["to_first_audio_cpu_ms"] += cpu
            if kind == "response.output_audio.delta":
                turn["audio"] += 1
            if kind == "response.done":
                turn = None
        return [t for t in turns if t["audio"]]


def silence(ms: int) -> bytes:
    return bytes(ms * 48)


async def run(turns: int, response_delay_ms: int, speed: float) -> dict[str, Any]:
    script = Script(
        language="fr",
        greeting=GREETING,
        turns=[
            ScriptTurn(member=QUESTIONS[n % len(QUESTIONS)], assistant=ANSWERS[n % len(ANSWERS)])
            for n in range(turns)
        ],
    )
    settings = SimulatorSettings(
        api_key=ORG_KEY, script=script, pacing=Pacing(response_delay_ms=response_delay_ms)
    )
    voice = Voice(VoiceKind.AUTO, "fr")
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        wav = Path(folder) / "member.wav"
        seconds = member_wav(wav, voice, turns)
        audio_settings = AudioSettings(
            backend=AudioBackend.FILE,
            echo_mode=EchoMode.GATE,
            echo_tail_ms=ECHO_TAIL_MS,
            file_speed=speed,
            input_wav=wav,
        )
        audio = AudioIO(
            audio_settings,
            WavFileInput(wav, audio_settings.block_ms, speed=speed),
            NullOutput(audio_settings.device_rate_hz, audio_settings.block_ms, speed=speed),
        )
        print(f"{turns} turns, {seconds:.0f} s of member audio at {speed}x, voice {voice.kind}")
        async with serve(settings) as simulator, audio:
            timer = stack.enter_context(EventTimer())
            start = await voice_start(simulator.base_url, simulator.realtime_url)
            limits = SessionLimits(idle_timeout_s=30, max_session_s=seconds + 60)
            conversation = RealtimeConversation(
                session_id=uuid4(),
                member=MemberCard(
                    badge_id="04BE4C0001", status=MembershipStatus.ACTIVE, member_id=uuid4()
                ),
                tools=NoTools(),
                audio=audio_source(audio),
                options=RealtimeOptions(limits=limits),
            )
            await conversation.start(start)
            facts = conversation.realtime_facts
            assert facts is not None
            for _ in range(int((seconds / speed + 30) * 10)):  # the WAV's length, and then some
                if _answered(facts.latencies) >= turns:
                    break
                await asyncio.sleep(0.1)
            await conversation.end(EndReason.KIOSK_SHUTDOWN)
            underruns = audio.stats().output_underruns
    measured = [t for t in facts.latencies if t.response_ms is not None]
    overhead = timer.per_turn()
    deltas = [took for kind, took, _ in timer.events if kind == "response.output_audio.delta"]
    return {
        "benchmark": "realtime_turn",
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "parameters": {
            "turns": turns,
            "response_delay_ms": response_delay_ms,
            "speed": speed,
            "voice": voice.kind.value,
            "vad_silence_ms": SILENCE_MS,
            "playback_prebuffer_ms": audio_settings.playback_prebuffer_ms,
            "block_ms": audio_settings.block_ms,
        },
        "turns_answered": len(measured),
        "errors": facts.errors,
        "output_underruns": underruns,
        "response_ms": summary([ms(t, t.first_audio_at) for t in measured]),
        "playback_ms": summary([ms(t, t.first_played_at) for t in measured]),
        "kiosk_overhead_ms": {
            "to_first_audio": summary([t["to_first_audio_ms"] for t in overhead]),
            "to_first_audio_cpu": summary([t["to_first_audio_cpu_ms"] for t in overhead]),
            "whole_turn": summary([t["whole_ms"] for t in overhead]),
            "whole_turn_cpu": summary([t["whole_cpu_ms"] for t in overhead]),
            "per_event": summary([took for _, took, _ in timer.events]),
            "per_event_cpu": summary([cpu for _, _, cpu in timer.events]),
            "per_audio_delta": summary(deltas),
            "events_per_turn": summary([t["events"] for t in overhead]),
        },
        "per_turn": [
            {"response_ms": ms(t, t.first_audio_at), "playback_ms": ms(t, t.first_played_at)}
            for t in measured
        ],
    }


def ms(turn: TurnLatency, at: float | None) -> float | None:
    """Milliseconds from the end of the member's speech to ``at``, to the microsecond."""
    return None if at is None else round((at - turn.speech_stopped_at) * 1000, 3)


def _answered(latencies: list[TurnLatency]) -> int:
    return sum(1 for t in latencies if t.playback_ms is not None)


async def voice_start(base_url: str, realtime_url: str) -> VoiceStartResponse:
    client = AsyncOpenAI(api_key=ORG_KEY, base_url=base_url)
    try:
        secret = await client.realtime.client_secrets.create(
            session={**SESSION, "model": "gpt-realtime-mini"}
        )
    finally:
        await client.close()
    return VoiceStartResponse(
        client_secret=secret.value,
        expires_at=datetime.datetime.fromtimestamp(secret.expires_at, datetime.UTC),
        model="gpt-realtime-mini",
        realtime_url=realtime_url,
        session=SESSION,
    )


def summary(measured: Sequence[float | None]) -> dict[str, float | int | None]:
    values = sorted(v for v in measured if v is not None)
    if not values:
        return {"count": 0, "p50": None, "p95": None, "mean": None, "min": None, "max": None}
    return {
        "count": len(values),
        "p50": nearest_rank(values, 50),
        "p95": nearest_rank(values, 95),
        "mean": round(statistics.fmean(values), 2),
        "min": values[0],
        "max": values[-1],
    }


def nearest_rank(ordered: list[float], pct: float) -> float:
    return ordered[max(1, math.ceil(len(ordered) * pct / 100)) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument(
        "--response-delay-ms",
        type=int,
        default=0,
        help="simulated model latency added by the simulator",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="audio clock speed (1.0 = real time, as on a kiosk)",
    )
    args = parser.parse_args()
    report = asyncio.run(run(args.turns, args.response_delay_ms, args.speed))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    cpu = report["machine"]
    print(
        f"{report['turns_answered']}/{args.turns} turns answered "
        f"({cpu['cpu']}, {cpu['cores']} cores); errors: {len(report['errors'])}; "
        f"speaker underruns: {report['output_underruns']}"
    )
    for name, label in (
        ("response_ms", "first audio received"),
        ("playback_ms", "first sample played"),
    ):
        row = report[name]
        print(
            f"speech_stopped → {label:22} p50 {row['p50']} ms  p95 {row['p95']} ms  "
            f"mean {row['mean']} ms  min {row['min']}  max {row['max']}"
        )
    for name, label in (
        ("to_first_audio", "kiosk overhead to the first audio"),
        ("to_first_audio_cpu", "  of which on-CPU"),
        ("whole_turn", "kiosk processing, whole turn"),
        ("whole_turn_cpu", "  of which on-CPU"),
        ("per_event", "kiosk processing per event"),
        ("per_event_cpu", "  of which on-CPU"),
        ("per_audio_delta", "kiosk processing per audio delta"),
    ):
        row = report["kiosk_overhead_ms"][name]
        print(
            f"{label:36} p50 {row['p50']:.3f} ms  p95 {row['p95']:.3f} ms  "
            f"max {row['max']:.3f} ms  ({row['count']})"
        )
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
