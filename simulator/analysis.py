"""The OpenAI endpoints the cloud's conversation analysis calls, simulated for tests and the
demo: `POST /v1/chat/completions` (structured output with a strict JSON schema) and
`POST /v1/embeddings`.

Strict where OpenAI is strict: request bodies are checked against the openai SDK's own
parameter types (unknown arguments, bad messages, unknown models are 400/404 with OpenAI's
error shape), and a strict `json_schema` response format must follow OpenAI's rules
(`additionalProperties: false` and every property required on every object; no
`minLength`/`maxLength`). The answer is an instance of the schema: a canned one chosen by the
marker `[sim:answer=NAME]` in the last user message, else one generated from the schema.

Knobs, as markers in the last user message (so they work across processes):
`[sim:refuse]` a refusal; `[sim:slow=S]` answer after S seconds; `[sim:error=CODE]` fail with
that HTTP status; `[sim:invalid]` an answer that breaks the schema; an answer longer than
`max_completion_tokens` ends with `finish_reason: length`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import re
import struct
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from openai.types.chat import ChatCompletionMessageParam
from openai.types.chat.completion_create_params import CompletionCreateParamsNonStreaming
from openai.types.embedding_create_params import EmbeddingCreateParams
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from contract.pricing import TEXT_PRICES
from simulator.errors import HttpRefusal, json_endpoint

MARKER = re.compile(r"\[sim:(refuse|invalid|slow=[0-9.]+|error=\d{3}|answer=[\w-]+)\]")
UNSUPPORTED_KEYWORDS = ("minLength", "maxLength", "minProperties", "maxProperties", "default")
_COMPLETION_KEYS = frozenset(CompletionCreateParamsNonStreaming.__annotations__)
_EMBEDDING_KEYS = frozenset(EmbeddingCreateParams.__annotations__)
_MESSAGES: TypeAdapter[list[ChatCompletionMessageParam]] = TypeAdapter(
    list[ChatCompletionMessageParam]
)
_COMPLETION: TypeAdapter[CompletionCreateParamsNonStreaming] = TypeAdapter(
    CompletionCreateParamsNonStreaming
)
_EMBEDDING: TypeAdapter[EmbeddingCreateParams] = TypeAdapter(EmbeddingCreateParams)
REFUSAL = "I'm sorry, but I can't help with that request."


@dataclass
class AnalysisEndpoints:
    """The two endpoints; `requests` keeps every accepted body (tests inspect them)."""

    check_key: Callable[[str | None], None]
    answers: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def routes(self) -> list[Route]:
        return [
            Route("/v1/chat/completions", self._guard(self._chat), methods=["POST"]),
            Route("/v1/embeddings", self._guard(self._embeddings), methods=["POST"]),
        ]

    def _guard(
        self, handler: Callable[[dict[str, Any]], Awaitable[JSONResponse]]
    ) -> Callable[[Request], Awaitable[JSONResponse]]:
        return json_endpoint(self.check_key, handler)

    # ---------------------------------------------------------------- chat completions

    async def _chat(self, body: dict[str, Any]) -> JSONResponse:
        _known_keys(body, _COMPLETION_KEYS)
        try:
            _COMPLETION.validate_python(body)
            messages = _MESSAGES.validate_python(list(body.get("messages") or []))
        except ValidationError as exc:
            first = exc.errors()[0]
            raise HttpRefusal(
                400,
                f"Invalid request: {first['msg']} at {first['loc']}.",
                "invalid_value",
                ".".join(map(str, first["loc"])),
            ) from exc
        if not messages:
            raise HttpRefusal(400, "[] is too short - 'messages'", None, "messages")
        if body.get("stream"):
            raise HttpRefusal(400, "The simulator does not stream.", "unsupported_value", "stream")
        model = str(body["model"])
        _known_model(model)
        schema = _response_schema(body.get("response_format"))
        self.requests.append(body)
        last = next((m for m in reversed(messages) if m["role"] == "user"), None)
        prompt = _text(last["content"]) if last else ""
        markers = MARKER.findall(prompt)
        for marker in markers:
            if marker.startswith("slow="):
                await asyncio.sleep(float(marker.split("=")[1]))
            if marker.startswith("error="):
                status = int(marker.split("=")[1])
                kind = "server_error" if status >= 500 else "invalid_request_error"
                raise HttpRefusal(status, f"Simulated error {status}.", None, kind=kind)
        refusal = None
        content: str | None
        if "refuse" in markers:
            content, refusal = None, REFUSAL
        elif schema is None:
            content = "OK. " + prompt[:200]
        else:
            answer = next(
                (
                    self.answers[m[7:]]
                    for m in markers
                    if m.startswith("answer=") and m[7:] in self.answers
                ),
                None,
            )
            instance = answer if answer is not None else instance_of(schema, prompt)
            if "invalid" in markers:
                instance = {"unexpected": True}
            content = json.dumps(instance, ensure_ascii=False)
        cap = body.get("max_completion_tokens") or body.get("max_tokens")
        finish = "stop"
        completion_tokens = _tokens(content or refusal or "")
        if cap is not None and completion_tokens > int(cap):
            finish, completion_tokens = "length", int(cap)
            content = (content or "")[: int(cap) * 4]
        prompt_tokens = sum(_tokens(_text(m.get("content"))) + 4 for m in messages)
        return JSONResponse(
            {
                "id": "chatcmpl-" + uuid.uuid4().hex[:24],
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "system_fingerprint": "fp_simulator",
                "service_tier": "default",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": finish,
                        "logprobs": None,
                        "message": {
                            "role": "assistant",
                            "content": content,
                            "refusal": refusal,
                            "annotations": [],
                        },
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                    "completion_tokens_details": {
                        "reasoning_tokens": 0,
                        "audio_tokens": 0,
                        "accepted_prediction_tokens": 0,
                        "rejected_prediction_tokens": 0,
                    },
                },
            }
        )

    # ---------------------------------------------------------------- embeddings

    async def _embeddings(self, body: dict[str, Any]) -> JSONResponse:
        _known_keys(body, _EMBEDDING_KEYS)
        try:
            _EMBEDDING.validate_python(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise HttpRefusal(400, f"Invalid request: {first['msg']}.", "invalid_value") from exc
        model = str(body["model"])
        _known_model(model)
        if not model.startswith("text-embedding"):
            raise HttpRefusal(
                400, f"{model} does not support embeddings.", "invalid_value", "model"
            )
        raw = body["input"]
        inputs = [raw] if isinstance(raw, str) else list(raw)
        if not inputs or len(inputs) > 2048 or not all(isinstance(t, str) and t for t in inputs):
            raise HttpRefusal(
                400,
                "'input' must be a non-empty string or up to 2048 of them.",
                "invalid_value",
                "input",
            )
        dimensions = body.get("dimensions")
        if dimensions is not None and not model.startswith("text-embedding-3"):
            raise HttpRefusal(
                400,
                "This model does not support specifying dimensions.",
                "invalid_value",
                "dimensions",
            )
        size = int(dimensions or 1536)
        self.requests.append(body)
        for text in inputs:
            for marker in MARKER.findall(text):
                if marker.startswith("slow="):
                    await asyncio.sleep(float(marker.split("=")[1]))
                if marker.startswith("error="):
                    raise HttpRefusal(
                        int(marker.split("=")[1]), "Simulated error.", None, kind="server_error"
                    )
        data = []
        for index, text in enumerate(inputs):
            vector = word_vector(text, size)
            encoded: Any = vector
            if body.get("encoding_format") == "base64":
                encoded = base64.b64encode(struct.pack(f"<{size}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(_tokens(t) for t in inputs)
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )


def _known_keys(body: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise HttpRefusal(400, f"Unrecognized request argument supplied: {unknown[0]}", None)


def _known_model(model: str) -> None:
    if not any(model == m or model.startswith(m + "-") for m in TEXT_PRICES):
        raise HttpRefusal(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            "model_not_found",
            kind="invalid_request_error",
        )


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4)) if text else 0


def _response_schema(response_format: Any) -> dict[str, Any] | None:
    if response_format is None or response_format.get("type") == "text":
        return None
    if response_format.get("type") == "json_object":
        return {"type": "object", "properties": {}, "required": [], "additionalProperties": False}
    spec = response_format.get("json_schema") or {}
    name = spec.get("name", "")
    schema = spec.get("schema")
    if not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name or ""):
        raise HttpRefusal(
            400,
            "Invalid 'response_format.json_schema.name'.",
            "invalid_value",
            "response_format.json_schema.name",
        )
    if not isinstance(schema, dict):
        raise HttpRefusal(
            400,
            "Missing 'response_format.json_schema.schema'.",
            "invalid_value",
            "response_format.json_schema.schema",
        )
    if spec.get("strict"):
        problem = strict_schema_problem(schema, schema.get("$defs", {}), ())
        if problem:
            raise HttpRefusal(
                400,
                f"Invalid schema for response_format '{name}': {problem}",
                "invalid_value",
                "response_format",
            )
    return schema


def strict_schema_problem(node: Any, defs: dict[str, Any], path: tuple[str, ...]) -> str | None:
    """OpenAI's strict-mode rules, on every object of the schema."""
    if not isinstance(node, dict):
        return None
    where = f"In context=({', '.join(repr(p) for p in path)})"
    for keyword in UNSUPPORTED_KEYWORDS:
        if keyword in node:
            return f"{where}, '{keyword}' is not permitted."
    if node.get("type") == "object" or "properties" in node:
        if node.get("additionalProperties") is not False:
            return f"{where}, 'additionalProperties' is required to be supplied and to be false."
        props = node.get("properties", {})
        missing = sorted(set(props) - set(node.get("required", [])))
        if missing:
            return f"{where}, 'required' is required to be supplied and to be an array including every key in properties. Missing '{missing[0]}'."  # noqa: E501
        for key, child in props.items():
            problem = strict_schema_problem(child, defs, (*path, "properties", key))
            if problem:
                return problem
    for key in ("items",):
        if key in node:
            problem = strict_schema_problem(node[key], defs, (*path, key))
            if problem:
                return problem
    for key in ("anyOf", "allOf"):
        for i, child in enumerate(node.get(key, [])):
            problem = strict_schema_problem(child, defs, (*path, key, str(i)))
            if problem:
                return problem
    for name, child in (node.get("$defs") or {}).items():
        problem = strict_schema_problem(child, defs, (*path, "$defs", name))
        if problem:
            return problem
    return None


def instance_of(schema: dict[str, Any], text: str, root: dict[str, Any] | None = None) -> Any:
    """A deterministic value that satisfies the schema (strings echo the prompt's start)."""
    root = root or schema
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        return instance_of(root.get("$defs", {})[name], text, root)
    if "anyOf" in schema:
        return instance_of(schema["anyOf"][0], text, root)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "object":
        return {k: instance_of(v, text, root) for k, v in schema.get("properties", {}).items()}
    if kind == "array":  # one item unless the schema asks for more or allows none
        count = max(schema.get("minItems", 0), min(1, schema.get("maxItems", 1)))
        return [instance_of(schema["items"], text, root) for _ in range(count)]
    if kind == "string":
        return (text.strip().splitlines() or ["simulated"])[-1][:120] or "simulated"
    if kind in ("number", "integer"):
        low, high = schema.get("minimum", 0), schema.get("maximum", 0)
        value = (low + high) / 2 if "minimum" in schema and "maximum" in schema else low
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return False
    return None


def word_vector(text: str, size: int) -> list[float]:
    """A unit vector of hashed words: texts sharing words point the same way."""
    vector = [0.0] * size
    for word in re.findall(r"\w+", text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        index = int.from_bytes(digest[:4], "big") % size
        vector[index] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]
