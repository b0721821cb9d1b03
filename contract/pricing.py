"""OpenAI Realtime prices per model and token kind: cost is computed from usage, never guessed.

Prices are USD per 1,000,000 tokens as OpenAI publishes them (checked 2025-10); update the
table when OpenAI changes them. Kiosk and cloud share it, so a session costs the same on both.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, NonNegativeInt


class ModelPrices(BaseModel):
    """USD per million tokens, by kind."""

    model_config = ConfigDict(frozen=True)

    text_input: Decimal
    text_cached_input: Decimal
    text_output: Decimal
    audio_input: Decimal
    audio_cached_input: Decimal
    audio_output: Decimal


class TokenUsage(BaseModel):
    """Token counts by kind, summed over a session's `response.done` events."""

    model_config = ConfigDict(frozen=True)

    input_text_tokens: NonNegativeInt = 0
    input_audio_tokens: NonNegativeInt = 0
    input_cached_tokens: NonNegativeInt = 0
    output_text_tokens: NonNegativeInt = 0
    output_audio_tokens: NonNegativeInt = 0


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


class UnknownModel(KeyError):
    """No price is known for this model: add it to `PRICES` rather than guessing."""


def prices_for(model: str) -> ModelPrices:
    """Prices for a model name, accepting dated snapshots (`gpt-realtime-mini-2025-10-06`)."""
    if model in PRICES:
        return PRICES[model]
    for name in sorted(PRICES, key=len, reverse=True):
        if model.startswith(name + "-"):
            return PRICES[name]
    raise UnknownModel(f"no price known for model {model!r}; add it to contract.pricing.PRICES")


def cost_breakdown(model: str, usage: TokenUsage) -> dict[str, tuple[int, Decimal]]:
    """Tokens and USD by kind (unrounded), as `session_cost` bills them. Cached input tokens
    are billed at the cached audio rate: Realtime caches the conversation, which is mostly
    audio."""
    p = prices_for(model)
    cached = usage.input_cached_tokens
    audio_uncached = max(usage.input_audio_tokens - cached, 0)
    text_uncached = max(usage.input_text_tokens - max(cached - usage.input_audio_tokens, 0), 0)
    million = Decimal(1_000_000)
    return {
        "text_input": (text_uncached, text_uncached * p.text_input / million),
        "audio_input": (audio_uncached, audio_uncached * p.audio_input / million),
        "cached_input": (cached, cached * p.audio_cached_input / million),
        "text_output": (
            usage.output_text_tokens,
            usage.output_text_tokens * p.text_output / million,
        ),
        "audio_output": (
            usage.output_audio_tokens,
            usage.output_audio_tokens * p.audio_output / million,
        ),
    }


def session_cost(model: str, usage: TokenUsage) -> Decimal:
    """Cost in USD of the usage (see `cost_breakdown`)."""
    total = sum((usd for _, usd in cost_breakdown(model, usage).values()), Decimal(0))
    return total.quantize(Decimal("0.00001"))


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
    if model in TEXT_PRICES:
        return TEXT_PRICES[model]
    for name in sorted(TEXT_PRICES, key=len, reverse=True):
        if model.startswith(name + "-"):
            return TEXT_PRICES[name]
    raise UnknownModel(
        f"no price known for model {model!r}; add it to contract.pricing.TEXT_PRICES"
    )


def text_cost(model: str, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> Decimal:
    """Cost in USD of one text or embedding call, to the millionth of a dollar."""
    p = text_prices_for(model)
    uncached = max(input_tokens - cached_tokens, 0)
    total = (
        uncached * p.input + cached_tokens * p.cached_input + output_tokens * p.output
    ) / Decimal(1_000_000)
    return total.quantize(Decimal("0.000001"))
