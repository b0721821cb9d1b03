"""A session's cost is the price table applied to the server's own usage, kind by kind.

`recorded_usage.json` is one gpt-realtime-mini session's usage as the server reports it
(GA shapes the openai SDK's models accept): a greeting, an answer, an answer cancelled by a
barge-in (billed all the same), and two transcriptions of the member's words.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter

from contract.pricing import (
    TokenUsage,
    TranscriptionUsage,
    UnknownModel,
    cost_breakdown,
    session_cost,
)
from kiosk_agent.core.realtime import RealtimeSession, SessionLimits
from tests.unit.realtime.kiosk_session import KIOSK_SESSION

RECORDED: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "recorded_usage.json").read_text(encoding="utf-8")
)
M = Decimal(1_000_000)


def test_the_recorded_events_are_real_shapes() -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)
    for event in RECORDED:
        assert adapter.validate_python(event).type == event["type"]


def test_the_session_costs_exactly_the_price_table_applied_to_the_servers_usage() -> None:
    core = RealtimeSession(
        session=KIOSK_SESSION,  # transcribed with gpt-4o-mini-transcribe
        model="gpt-realtime-mini",
        now=0.0,
        started_at=datetime(2026, 3, 2, tzinfo=UTC),
        limits=SessionLimits(greet_first=False),
        rng=random.Random(1),
    )
    core.connected(0.0)
    for event in RECORDED:
        core.receive(json.dumps(event), 1.0)
    # By hand, from the payloads (USD per million tokens: gpt-realtime-mini text 0.60,
    # cached text 0.06, audio 10.00, cached audio 0.30, text out 2.40, audio out 20.00;
    # gpt-4o-mini-transcribe audio in 3.00, text out 5.00).
    text_in = (1200 - 0) + (1230 - 1088) + (1270 - 1216)
    cached_text = 1088 + 1216
    audio_in = (142 - 64) + (380 - 128)
    cached_audio = 64 + 128
    text_out, audio_out = 18 + 24 + 6, 95 + 180 + 40
    realtime = (
        text_in * Decimal("0.60")
        + cached_text * Decimal("0.06")
        + audio_in * Decimal("10.00")
        + cached_audio * Decimal("0.30")
        + text_out * Decimal("2.40")
        + audio_out * Decimal("20.00")
    ) / M
    transcription = ((26 + 31) * Decimal("3.00") + (9 + 7) * Decimal("5.00")) / M
    assert core.facts.cost_usd == (realtime + transcription).quantize(Decimal("0.00001"))
    assert core.facts.cost_usd == Decimal("0.01100")
    cost = core.facts.cost
    assert cost.cached_text_input == cached_text * Decimal("0.06") / M
    assert cost.transcription == transcription
    facts = core.facts.session_facts()
    assert facts.usage == TokenUsage(
        input_text_tokens=3700,
        input_audio_tokens=522,
        input_cached_tokens=2496,
        input_cached_text_tokens=2304,
        input_cached_audio_tokens=192,
        output_text_tokens=48,
        output_audio_tokens=315,
    )
    assert facts.transcription == TranscriptionUsage(
        model="gpt-4o-mini-transcribe", input_audio_tokens=57, output_text_tokens=16
    )


def test_cached_tokens_of_unknown_kind_are_billed_as_an_upper_bound() -> None:
    # Older servers give `cached_tokens` alone: billed at the dearer cached rate, taken off
    # the cheaper uncached kind first, so the cost is never under the truth.
    unnamed = TokenUsage(input_text_tokens=1000, input_audio_tokens=500, input_cached_tokens=1200)
    as_text_first = cost_breakdown("gpt-realtime-mini", unnamed)
    assert as_text_first.text_input == 0
    assert as_text_first.audio_input == 300 * Decimal("10.00") / M
    assert as_text_first.cached_audio_input == 1200 * Decimal("0.30") / M
    for cached_text in range(0, 1001, 100):
        truth = unnamed.model_copy(
            update={
                "input_cached_text_tokens": cached_text,
                "input_cached_audio_tokens": 1200 - cached_text,
            }
        )
        if truth.input_cached_audio_tokens <= 500:
            assert session_cost("gpt-realtime-mini", unnamed) >= session_cost(
                "gpt-realtime-mini", truth
            )


def test_duration_billed_transcription_and_unknown_models() -> None:
    whisper = TranscriptionUsage(model="whisper-1").plus_event({"type": "duration", "seconds": 90})
    assert cost_breakdown("gpt-realtime", TokenUsage(), whisper).transcription == Decimal("0.009")
    with pytest.raises(UnknownModel, match="TRANSCRIPTION_PRICES"):
        session_cost(
            "gpt-realtime",
            TokenUsage(),
            TranscriptionUsage(model="speech-9").plus_event(
                {"type": "tokens", "input_tokens": 3, "output_tokens": 1, "total_tokens": 4}
            ),
        )
