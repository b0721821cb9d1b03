"""The project's OpenAI Realtime simulator: a local server the official openai SDK talks to.

`POST /v1/realtime/client_secrets` mints `ek_…` secrets; `/v1/realtime` speaks the GA
Realtime protocol over a WebSocket, with an energy VAD, scripted turns (transcripts, tool
calls, spoken answers), cancellation, truncation and realistic usage. See docs/REALTIME.md.
"""

from simulator.responses import Pacing
from simulator.script import DEMO_SCRIPT, Fault, Script, ScriptedToolCall, ScriptTurn
from simulator.server import RunningSimulator, Simulator, SimulatorSettings, run, serve
from simulator.voice import VoiceKind

__all__ = [
    "DEMO_SCRIPT",
    "Fault",
    "Pacing",
    "RunningSimulator",
    "Script",
    "ScriptTurn",
    "ScriptedToolCall",
    "Simulator",
    "SimulatorSettings",
    "VoiceKind",
    "run",
    "serve",
]
