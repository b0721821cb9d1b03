"""OpenAI Realtime and transcription prices: cost is computed from usage, never guessed.

Prices are USD per 1,000,000 tokens as OpenAI publishes them (checked 2025-10); update the
tables when OpenAI changes them. Kiosk and cloud share them, so a session costs the same on
both.

A session's cost is the price table applied to what the server reported, kind by kind:

- each `response.done`'s `usage` (cancelled responses included: they are billed), split into
  uncached text and audio input, cached text and audio input (`input_token_details.
  cached_tokens_details`), text and audio output — cached input is a subset of input, and
  each kind has its own price;
- each `conversation.item.input_audio_transcription.completed`'s `usage`, priced at the
  transcription model's rates (tokens, or seconds of audio for duration-billed models).

When a `response.done` gives cached tokens without saying which kind (older servers), the
cost is an upper bound: they are billed at the dearer cached rate and taken off the cheaper
uncached kind first, so a budget is never reached later than configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

MILLION = Decimal(1_000_000)
CENT_THOUSANDTH = Decimal("0.00001")
"""Costs are kept to 1e-5 USD (the cloud's `numeric(10, 5)`)."""


class ModelPrices(BaseModel):
    """USD per million tokens, by kind."""

    model_config = ConfigDict(frozen=True)

    text_input: Decimal
    text_cached_input: Decimal
    text_output: Decimal
    audio_input: Decimal
    audio_cached_input: Decimal
    audio_output: Decimal


# Tokens of one kind in one session: an hour-long session uses some 10^5; the bound keeps
# every count, and their sum the database computes, inside a 32-bit integer.
def a_number(value: Any) -> Any:
    """Numbers on the wire are JSON numbers: text and booleans (which lax validation would
    read as 1 and 0) are refused, as the schema says."""
    if isinstance(value, str | bool):
        raise ValueError(f"a number, not {'text' if isinstance(value, str) else 'a boolean'}")
    return value


TokenCount = Annotated[int, Field(ge=0, le=100_000_000), BeforeValidator(a_number)]


# Seconds of audio in one session (a day at most), exact as a Decimal inside, a JSON number
# on the wire both ways — the schema says so, and text is refused as it says.
AudioSeconds = Annotated[
    Decimal,
    BeforeValidator(a_number),
    Field(ge=0, le=86_400, allow_inf_nan=False),
    PlainSerializer(float, return_type=float, when_used="json"),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 86_400}),
]


class TranscriptionPrices(BaseModel):
    """USD per million tokens (token-billed models), or per minute of audio."""

    model_config = ConfigDict(frozen=True)

    text_input: Decimal = Decimal(0)
    audio_input: Decimal = Decimal(0)
    text_output: Decimal = Decimal(0)
    per_minute: Decimal = Decimal(0)


class TokenUsage(BaseModel):
    """Realtime token counts by kind, summed over a session's `response.done` events.

    Input counts include cached tokens (OpenAI reports cached input as a subset of input);
    ``input_cached_tokens`` is all cached input, of which ``input_cached_text_tokens`` and
    ``input_cached_audio_tokens`` are the kinds the server named (the rest, if any, was
    reported without a kind).
    """

    model_config = ConfigDict(frozen=True)

    input_text_tokens: TokenCount = 0
    input_audio_tokens: TokenCount = 0
    input_cached_tokens: TokenCount = 0
    input_cached_text_tokens: TokenCount = 0
    input_cached_audio_tokens: TokenCount = 0
    output_text_tokens: TokenCount = 0
    output_audio_tokens: TokenCount = 0

    @classmethod
    def of_response(cls, usage: Any) -> TokenUsage:
        """One `response.done`'s `usage` object (absent or malformed parts count as 0)."""
        if not isinstance(usage, Mapping):
            return cls()
        given = _mapping(usage.get("input_token_details"))
        made = _mapping(usage.get("output_token_details"))
        cached = _mapping(given.get("cached_tokens_details"))
        return cls(
            input_text_tokens=_count(given, "text_tokens"),
            input_audio_tokens=_count(given, "audio_tokens"),
            input_cached_tokens=_count(given, "cached_tokens"),
            input_cached_text_tokens=_count(cached, "text_tokens"),
            input_cached_audio_tokens=_count(cached, "audio_tokens"),
            output_text_tokens=_count(made, "text_tokens"),
            output_audio_tokens=_count(made, "audio_tokens"),
        )

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            **{name: getattr(self, name) + getattr(other, name) for name in type(self).model_fields}
        )


class TranscriptionUsage(BaseModel):
    """The member's words transcribed during a session, summed over its
    `conversation.item.input_audio_transcription.completed` events."""

    model_config = ConfigDict(frozen=True)

    model: str | None = None
    """The transcription model the session was configured with."""
    input_text_tokens: TokenCount = 0
    input_audio_tokens: TokenCount = 0
    output_text_tokens: TokenCount = 0
    seconds: AudioSeconds = Decimal(0)
    """Audio transcribed by a duration-billed model."""

    @property
    def tokens(self) -> int:
        return self.input_text_tokens + self.input_audio_tokens + self.output_text_tokens

    def plus_event(self, usage: Any) -> TranscriptionUsage:
        """This usage plus one transcription event's `usage` (`tokens` or `duration`)."""
        if not isinstance(usage, Mapping):
            return self
        if usage.get("type") == "duration":
            seconds = usage.get("seconds")
            if isinstance(seconds, int | float) and seconds >= 0:
                return self.model_copy(update={"seconds": self.seconds + Decimal(str(seconds))})
            return self
        given = _mapping(usage.get("input_token_details"))
        total_in = _count(usage, "input_tokens")
        audio = _count(given, "audio_tokens") if given else total_in
        text = _count(given, "text_tokens") if given else 0
        return self.model_copy(
            update={
                "input_text_tokens": self.input_text_tokens + text,
                "input_audio_tokens": self.input_audio_tokens + audio,
                "output_text_tokens": self.output_text_tokens + _count(usage, "output_tokens"),
            }
        )


class CostBreakdown(BaseModel):
    """A session's cost in USD, kind by kind (unrounded: the total is rounded once)."""

    model_config = ConfigDict(frozen=True)

    text_input: Decimal = Decimal(0)
    cached_text_input: Decimal = Decimal(0)
    audio_input: Decimal = Decimal(0)
    cached_audio_input: Decimal = Decimal(0)
    text_output: Decimal = Decimal(0)
    audio_output: Decimal = Decimal(0)
    transcription: Decimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        """USD to 1e-5."""
        parts = (getattr(self, name) for name in type(self).model_fields)
        return sum(parts, Decimal(0)).quantize(CENT_THOUSANDTH)

    def rounded(self) -> dict[str, str]:
        """Each kind to 1e-6 USD, as strings (for JSON)."""
        return {
            name: str(getattr(self, name).quantize(Decimal("0.000001")))
            for name in type(self).model_fields
        }


_D = Decimal
PRICES: dict[str, ModelPrices] = {
    "gpt-realtime": ModelPrices(
        text_input=_D("4.00"),
        text_cached_input=_D("0.40"),
        text_output=_D("16.00"),
        audio_input=_D("32.00"),
        audio_cached_input=_D("0.40"),
        audio_output=_D("64.00"),
    ),
    "gpt-realtime-mini": ModelPrices(
        text_input=_D("0.60"),
        text_cached_input=_D("0.06"),
        text_output=_D("2.40"),
        audio_input=_D("10.00"),
        audio_cached_input=_D("0.30"),
        audio_output=_D("20.00"),
    ),
    "gpt-4o-realtime-preview": ModelPrices(
        text_input=_D("5.00"),
        text_cached_input=_D("2.50"),
        text_output=_D("20.00"),
        audio_input=_D("40.00"),
        audio_cached_input=_D("2.50"),
        audio_output=_D("80.00"),
    ),
    "gpt-4o-mini-realtime-preview": ModelPrices(
        text_input=_D("0.60"),
        text_cached_input=_D("0.30"),
        text_output=_D("2.40"),
        audio_input=_D("10.00"),
        audio_cached_input=_D("0.30"),
        audio_output=_D("20.00"),
    ),
}
TRANSCRIPTION_PRICES: dict[str, TranscriptionPrices] = {
    "gpt-4o-transcribe": TranscriptionPrices(
        text_input=_D("2.50"), audio_input=_D("6.00"), text_output=_D("10.00")
    ),
    "gpt-4o-mini-transcribe": TranscriptionPrices(
        text_input=_D("1.25"), audio_input=_D("3.00"), text_output=_D("5.00")
    ),
    "whisper-1": TranscriptionPrices(per_minute=_D("0.006")),
}


_Price = TypeVar("_Price", "ModelPrices", "TranscriptionPrices", "TextModelPrices")


class UnknownModel(KeyError):
    """No price is known for this model: add it to the tables rather than guessing."""


def prices_for(model: str) -> ModelPrices:
    """Prices for a model name, accepting dated snapshots (`gpt-realtime-mini-2025-10-06`)."""
    return _lookup(PRICES, model, "PRICES")


def transcription_prices_for(model: str) -> TranscriptionPrices:
    return _lookup(TRANSCRIPTION_PRICES, model, "TRANSCRIPTION_PRICES")


def cost_breakdown(
    model: str, usage: TokenUsage, transcription: TranscriptionUsage | None = None
) -> CostBreakdown:
    """What the usage costs, kind by kind (UnknownModel when a model has no price)."""
    p = prices_for(model)
    cached_text = min(usage.input_cached_text_tokens, usage.input_text_tokens)
    cached_audio = min(usage.input_cached_audio_tokens, usage.input_audio_tokens)
    uncached_text = usage.input_text_tokens - cached_text
    uncached_audio = usage.input_audio_tokens - cached_audio
    # Cached tokens the server did not attribute: off the cheaper uncached kind first, at
    # the dearer cached rate (an upper bound, see the module docstring).
    unnamed = max(0, usage.input_cached_tokens - cached_text - cached_audio)
    if p.text_input <= p.audio_input:
        off_text = min(unnamed, uncached_text)
        off_audio = min(unnamed - off_text, uncached_audio)
    else:
        off_audio = min(unnamed, uncached_audio)
        off_text = min(unnamed - off_audio, uncached_text)
    unnamed = off_text + off_audio
    uncached_text -= off_text
    uncached_audio -= off_audio
    if p.text_cached_input >= p.audio_cached_input:
        cached_text += unnamed
    else:
        cached_audio += unnamed
    breakdown = CostBreakdown(
        text_input=uncached_text * p.text_input / MILLION,
        cached_text_input=cached_text * p.text_cached_input / MILLION,
        audio_input=uncached_audio * p.audio_input / MILLION,
        cached_audio_input=cached_audio * p.audio_cached_input / MILLION,
        text_output=usage.output_text_tokens * p.text_output / MILLION,
        audio_output=usage.output_audio_tokens * p.audio_output / MILLION,
    )
    if transcription is None:
        return breakdown
    return breakdown.model_copy(update={"transcription": transcription_cost(transcription)})


def transcription_cost(usage: TranscriptionUsage) -> Decimal:
    """What the transcription of the member's words cost (0 when nothing was transcribed)."""
    if not usage.tokens and not usage.seconds:
        return Decimal(0)
    if usage.model is None:
        raise UnknownModel("transcription usage without its model cannot be priced")
    p = transcription_prices_for(usage.model)
    return (
        usage.input_text_tokens * p.text_input
        + usage.input_audio_tokens * p.audio_input
        + usage.output_text_tokens * p.text_output
    ) / MILLION + usage.seconds * p.per_minute / 60


def session_cost(
    model: str, usage: TokenUsage, transcription: TranscriptionUsage | None = None
) -> Decimal:
    """Cost in USD of a session's usage, to 1e-5 (see :func:`cost_breakdown`)."""
    return cost_breakdown(model, usage, transcription).total


class TextModelPrices(BaseModel):
    """USD per million tokens of a text or embedding model (output 0 for embeddings)."""

    model_config = ConfigDict(frozen=True)

    input: Decimal
    cached_input: Decimal
    output: Decimal


# The models the conversation analysis and the weekly insights call (checked 2025-10).
TEXT_PRICES: dict[str, TextModelPrices] = {
    "gpt-4o-mini": TextModelPrices(input=_D("0.15"), cached_input=_D("0.075"), output=_D("0.60")),
    "gpt-4.1-mini": TextModelPrices(input=_D("0.40"), cached_input=_D("0.10"), output=_D("1.60")),
    "gpt-4.1-nano": TextModelPrices(input=_D("0.10"), cached_input=_D("0.025"), output=_D("0.40")),
    "gpt-5-mini": TextModelPrices(input=_D("0.25"), cached_input=_D("0.025"), output=_D("2.00")),
    "text-embedding-3-small": TextModelPrices(
        input=_D("0.02"), cached_input=_D("0.02"), output=_D(0)
    ),
    "text-embedding-3-large": TextModelPrices(
        input=_D("0.13"), cached_input=_D("0.13"), output=_D(0)
    ),
}


def text_prices_for(model: str) -> TextModelPrices:
    """Prices of a text or embedding model, accepting dated snapshots."""
    return _lookup(TEXT_PRICES, model, "TEXT_PRICES")


def text_cost(model: str, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> Decimal:
    """Cost in USD of one text or embedding call, to the millionth of a dollar."""
    p = text_prices_for(model)
    uncached = max(input_tokens - cached_tokens, 0)
    total = (
        uncached * p.input + cached_tokens * p.cached_input + output_tokens * p.output
    ) / Decimal(1_000_000)
    return total.quantize(Decimal("0.000001"))


def _lookup(table: dict[str, _Price], model: str, name: str) -> _Price:
    if model in table:
        return table[model]
    for known in sorted(table, key=len, reverse=True):
        if model.startswith(known + "-"):
            return table[known]
    raise UnknownModel(f"no price known for model {model!r}; add it to contract.pricing.{name}")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _count(values: Mapping[str, Any], key: str) -> int:
    value = values.get(key)
    return value if isinstance(value, int) and value > 0 else 0
