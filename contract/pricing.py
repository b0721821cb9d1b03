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
