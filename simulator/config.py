"""Realtime session configuration: validation of the GA `session` object and its effective form.

The same object arrives in `POST /v1/realtime/client_secrets` (`session`) and in the
`session.update` client event. Unknown fields are refused, as OpenAI refuses them, with the
dotted parameter path in the error; values outside what the simulator can honour (another
audio format or rate) are refused with the same error shape.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

KNOWN_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin")
DEFAULT_INSTRUCTIONS = "You are a helpful, witty, and friendly AI."
SEMANTIC_SILENCE_MS = {"low": 2000, "medium": 1000, "auto": 1000, "high": 500}
"""How long `semantic_vad` waits in silence, by eagerness (an energy-VAD approximation)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _PcmFormat(_Strict):
    type: Literal["audio/pcm"]
    rate: Literal[24000] = 24000


class _ServerVad(_Strict):
    type: Literal["server_vad"]
    threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    prefix_padding_ms: Annotated[int, Field(ge=0, le=10_000)] = 300
    silence_duration_ms: Annotated[int, Field(ge=0, le=10_000)] = 500
    idle_timeout_ms: Annotated[int, Field(ge=5_000, le=30_000)] | None = None
    create_response: bool = True
    interrupt_response: bool = True


class _SemanticVad(_Strict):
    type: Literal["semantic_vad"]
    eagerness: Literal["low", "medium", "high", "auto"] = "auto"
    create_response: bool = True
    interrupt_response: bool = True


class _NoiseReduction(_Strict):
    type: Literal["near_field", "far_field"]
    strength: float | None = None


class _Transcription(_Strict):
    model: str | None = None
    language: str | None = None
    languages: list[str] | None = None
    prompt: str | None = None
    keywords: list[str] | None = None
    delay: str | None = None


class _AudioInput(_Strict):
    format: _PcmFormat | None = None
    turn_detection: Annotated[_ServerVad | _SemanticVad, Field(discriminator="type")] | None = None
    transcription: _Transcription | None = None
    noise_reduction: _NoiseReduction | None = None


class _AudioOutput(_Strict):
    format: _PcmFormat | None = None
    voice: str | None = None
    speed: Annotated[float, Field(ge=0.25, le=1.5)] | None = None


class _Audio(_Strict):
    input: _AudioInput | None = None
    output: _AudioOutput | None = None


class _FunctionTool(_Strict):
    type: Literal["function"] = "function"
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")]
    description: str | None = None
    parameters: dict[str, Any] | None = None


class _Session(_Strict):
    type: Literal["realtime"]
    model: str | None = None
    instructions: str | None = None
    output_modalities: list[Literal["audio", "text"]] | None = Field(
        default=None, min_length=1, max_length=1
    )
    audio: _Audio | None = None
    tools: list[_FunctionTool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    max_output_tokens: int | Literal["inf"] | None = None
    include: list[str] | None = None
    tracing: str | dict[str, Any] | None = None
    truncation: str | dict[str, Any] | None = None
    prompt: dict[str, Any] | None = None
    reasoning: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One reason a session configuration was refused, in OpenAI's error vocabulary."""

    code: str
    message: str
    param: str


def check_session(session: Any, prefix: str = "session") -> ConfigProblem | None:
    """The first problem with a GA session object, or None when it is acceptable."""
    if not isinstance(session, dict):
        return ConfigProblem(
            "invalid_type", f"Invalid type for '{prefix}': expected an object.", prefix
        )
    if session.get("type") == "transcription":
        return ConfigProblem(
            "invalid_value",
            "Transcription sessions are not supported by the simulator; use type 'realtime'.",
            f"{prefix}.type",
        )
    try:
        parsed = _Session.model_validate(session)
    except ValidationError as exc:
        error = exc.errors()[0]
        param = ".".join([prefix, *(str(p) for p in error["loc"] if not _is_union_tag(p))])
        if error["type"] == "extra_forbidden":
            return ConfigProblem("unknown_parameter", f"Unknown parameter: '{param}'.", param)
        if error["type"] == "missing":
            return ConfigProblem(
                "missing_required_parameter", f"Missing required parameter: '{param}'.", param
            )
        return ConfigProblem(
            "invalid_value", f"Invalid value for '{param}': {error['msg']}.", param
        )
    voice = parsed.audio.output.voice if parsed.audio and parsed.audio.output else None
    if voice is not None and voice not in KNOWN_VOICES:
        param = f"{prefix}.audio.output.voice"
        supported = ", ".join(f"'{v}'" for v in KNOWN_VOICES)
        return ConfigProblem(
            "invalid_value", f"Invalid value: '{voice}'. Supported values are: {supported}.", param
        )
    return None


_UNION_MEMBERS = {"server_vad", "semantic_vad", "int", "str", "float", "bool"}


def _is_union_tag(part: object) -> bool:
    # pydantic names the union member it tried in the location ("server_vad", "int",
    # "literal['inf']", "dict[str,any]"): not part of the client's parameter path.
    return isinstance(part, str) and (part in _UNION_MEMBERS or "[" in part)


def default_session(model: str, session_id: str, expires_at: int) -> dict[str, Any]:
    """The effective session OpenAI reports before any update."""
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": model,
        "output_modalities": ["audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "expires_at": expires_at,
        "include": None,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": _server_vad_defaults(),
            },
            "output": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "voice": "alloy",
                "speed": 1.0,
            },
        },
    }


def _server_vad_defaults() -> dict[str, Any]:
    return _ServerVad(type="server_vad").model_dump()


def merge_session(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """The effective session after a (validated) update: given fields replace current ones,
    `audio.input` and `audio.output` merge field by field, turn detection fills defaults."""
    merged = copy.deepcopy(current)
    for key, value in update.items():
        if key == "audio" and isinstance(value, dict):
            audio = merged.setdefault("audio", {})
            for side in ("input", "output"):
                if isinstance(value.get(side), dict):
                    audio.setdefault(side, {}).update(copy.deepcopy(value[side]))
        else:
            merged[key] = copy.deepcopy(value)
    detection = merged.get("audio", {}).get("input", {}).get("turn_detection")
    if isinstance(detection, dict):
        model: type[_ServerVad | _SemanticVad]
        model = _ServerVad if detection.get("type") == "server_vad" else _SemanticVad
        merged["audio"]["input"]["turn_detection"] = model.model_validate(detection).model_dump()
    return merged


@dataclass(frozen=True, slots=True)
class TurnDetection:
    """What the simulated server VAD does, from the session's `turn_detection`."""

    threshold: float
    prefix_padding_ms: int
    silence_duration_ms: int
    create_response: bool
    interrupt_response: bool

    @classmethod
    def of(cls, session: dict[str, Any]) -> TurnDetection | None:
        detection = session.get("audio", {}).get("input", {}).get("turn_detection")
        if not isinstance(detection, dict):
            return None
        if detection["type"] == "semantic_vad":
            return cls(
                threshold=0.5,
                prefix_padding_ms=300,
                silence_duration_ms=SEMANTIC_SILENCE_MS[detection["eagerness"]],
                create_response=detection["create_response"],
                interrupt_response=detection["interrupt_response"],
            )
        return cls(
            threshold=detection["threshold"],
            prefix_padding_ms=detection["prefix_padding_ms"],
            silence_duration_ms=detection["silence_duration_ms"],
            create_response=detection["create_response"],
            interrupt_response=detection["interrupt_response"],
        )


def tool_names(session: dict[str, Any]) -> set[str]:
    return {t["name"] for t in session.get("tools") or [] if isinstance(t, dict) and "name" in t}


def transcribes_input(session: dict[str, Any]) -> bool:
    return bool(session.get("audio", {}).get("input", {}).get("transcription"))


def speaks(session: dict[str, Any]) -> bool:
    return "audio" in (session.get("output_modalities") or ["audio"])
