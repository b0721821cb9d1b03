from decimal import Decimal

import pytest

from contract.pricing import TokenUsage, UnknownModel, prices_for, session_cost


def test_cost_follows_the_price_table() -> None:
    usage = TokenUsage(input_audio_tokens=1_000_000, output_audio_tokens=1_000_000)
    assert session_cost("gpt-realtime", usage) == Decimal("96.00000")


def test_cached_audio_is_billed_at_the_cached_rate() -> None:
    usage = TokenUsage(input_audio_tokens=1_000_000, input_cached_tokens=1_000_000)
    assert session_cost("gpt-realtime-mini", usage) == Decimal("0.30000")


def test_dated_snapshots_use_their_family_price() -> None:
    assert prices_for("gpt-realtime-mini-2025-10-06") == prices_for("gpt-realtime-mini")
    assert prices_for("gpt-realtime-2025-08-28") == prices_for("gpt-realtime")


def test_unknown_model_is_an_error_not_a_guess() -> None:
    with pytest.raises(UnknownModel, match="add it"):
        session_cost("gpt-7-realtime", TokenUsage(input_text_tokens=1))
