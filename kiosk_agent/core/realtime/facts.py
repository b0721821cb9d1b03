"""The session's facts: what the session record needs, kept up to date as the session runs.

The turns as the member heard them, tool calls, token usage summed by kind over every
`response.done` (cancelled responses are billed too), latency per turn, errors and how the
session ended.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from contract.kiosk_api import EndReason, Latency, Reconnection, ToolCallRecord, Turn
from contract.pricing import CostBreakdown, TokenUsage, TranscriptionUsage, cost_breakdown
from kiosk_agent.core.conversation import SessionFacts
from kiosk_agent.core.realtime.latency import TurnLatency


@dataclass
class RealtimeFacts:
    """What the session record needs, kept up to date as the session runs."""

    model: str
    started_at: datetime
    usage: TokenUsage = field(default_factory=TokenUsage)
    """Summed kind by kind over every `response.done` (cancelled ones included)."""
    transcription: TranscriptionUsage = field(default_factory=TranscriptionUsage)
    turns: list[Turn] = field(default_factory=list)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    latencies: list[TurnLatency] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    benign_errors: int = 0
    responses: int = 0
    cancelled_responses: int = 0
    truncations: list[tuple[str, int]] = field(default_factory=list)
    """(item id, audio_end_ms) of every barge-in truncation sent."""
    reconnections: list[Reconnection] = field(default_factory=list)
    """Every connection lost and retried, with its cause and what became of it."""
    dropped_audio_ms: int = 0
    """Microphone audio that could not be sent (no connection)."""
    greeting_item: str | None = None
    """JARVIS's first item with audio: the greeting (or, had the member spoken first, the
    first thing JARVIS said to them)."""
    greeting_audio_at: float | None = None
    """When the greeting's first audio arrived (the adapter's clock)."""
    greeting_played_at: float | None = None
    """When its first sample was played (the adapter's clock: ``time.monotonic``)."""
    ignored_events: Counter[str] = field(default_factory=Counter)
    rate_limits: list[dict[str, Any]] = field(default_factory=list)
    end_reason: EndReason | None = None
    end_detail: str = ""
    ended_by_itself: bool = False
    """False when the kiosk ended it (:meth:`RealtimeSession.end`)."""
    ended_at: datetime | None = None

    @property
    def latency(self) -> Latency:
        """Per-session summary in the session record's shape."""
        answered = [t.response_ms for t in self.latencies if t.response_ms is not None]
        played = [t.playback_ms for t in self.latencies if t.playback_ms is not None]
        return Latency(
            first_response_ms=answered[0] if answered else None,
            avg_response_ms=round(statistics.fmean(answered)) if answered else None,
            p95_response_ms=percentile(answered, 95) if answered else None,
            avg_playback_ms=round(statistics.fmean(played)) if played else None,
        )

    @property
    def reconnects(self) -> int:
        return len(self.reconnections)

    @property
    def transcription_tokens(self) -> int:
        return self.transcription.tokens

    @property
    def cost(self) -> CostBreakdown:
        """The price table applied to the server's usage, kind by kind."""
        return cost_breakdown(self.model, self.usage, self.transcription)

    @property
    def cost_usd(self) -> Decimal:
        return self.cost.total

    def session_facts(self) -> SessionFacts:
        """The facts the agent files in the session record."""
        return SessionFacts(
            turns=tuple(self.turns),
            tool_calls=tuple(self.tool_calls),
            usage=self.usage,
            transcription=self.transcription,
            reconnects=tuple(self.reconnections),
            greeting_played_at=self.greeting_played_at,
            latency=self.latency,
            end_reason=self.end_reason if self.ended_by_itself else None,
            errors=tuple(self.errors),
        )


def percentile(values: list[int], pct: float) -> int:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]
