"""What an analysis reads (a transcript) and what it produces (a conversation analysis).

Both analyzers, local and OpenAI, return the same validated model; the store writes it into
`conversation_summaries` together with which analyzer and models produced it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

SentimentLabel = Literal["negative", "neutral", "positive"]
Emotion = Literal["joy", "satisfaction", "neutral", "frustration", "anger", "sadness", "worry"]
Intent = Literal[
    "book_class",
    "cancel_booking",
    "report_issue",
    "ask_question",
    "ask_progress",
    "set_goal",
    "complaint",
    "compliment",
    "request_staff",
    "cancel_membership",
    "smalltalk",
]
Topic = Annotated[str, StringConstraints(min_length=1, max_length=40)]
NEGATIVE_BELOW = -0.2
POSITIVE_ABOVE = 0.2


def sentiment_label(score: float) -> SentimentLabel:
    if score < NEGATIVE_BELOW:
        return "negative"
    if score > POSITIVE_ABOVE:
        return "positive"
    return "neutral"


@dataclass(frozen=True)
class Turn:
    role: str  # user | assistant | tool
    content: str


@dataclass(frozen=True)
class Transcript:
    """One stored session, as the analysis sees it."""

    session_id: UUID
    language: str
    first_name: str | None
    turns: tuple[Turn, ...]
    tool_names: tuple[str, ...] = ()
    tool_calls: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @property
    def member_lines(self) -> list[str]:
        return [t.content.strip() for t in self.turns if t.role == "user" and t.content.strip()]

    def as_text(self, max_chars: int) -> str:
        """The conversation as 'Member: …' / 'JARVIS: …' lines, the newest cut last."""
        lines = []
        for turn in self.turns:
            if turn.role == "tool" or not turn.content.strip():
                continue
            who = "Member" if turn.role == "user" else "JARVIS"
            lines.append(f"{who}: {turn.content.strip()}")
        text = "\n".join(lines)
        return text[:max_chars]


class ActionItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal[
        "check_equipment", "follow_up", "call_member", "check_billing", "retention_call", "other"
    ]
    detail: Annotated[str, StringConstraints(max_length=300)]


class ConversationAnalysis(BaseModel):
    """The structured result of one session's analysis (also OpenAI's response format)."""

    model_config = ConfigDict(extra="forbid")

    summary: Annotated[str, StringConstraints(min_length=1, max_length=600)] = Field(
        description="Two or three sentences for the gym manager, in the conversation's language."
    )
    key_topics: list[Topic] = Field(max_length=6, description="Short lower-case topics.")
    sentiment_score: float = Field(ge=-1, le=1, description="The member's mood, -1 to 1.")
    sentiment_label: SentimentLabel
    emotion: Emotion
    intents: list[Intent] = Field(max_length=6)
    action_items: list[ActionItem] = Field(max_length=6)


@dataclass(frozen=True)
class AnalysisUsage:
    input_tokens: int = 0
    output_tokens: int = 0
    embedding_tokens: int = 0
    cost_usd: Decimal = Decimal(0)


@dataclass(frozen=True)
class AnalysisResult:
    analysis: ConversationAnalysis
    analyzer: Literal["local-v1", "openai"]
    analysis_model: str
    language: str
    embedding: list[float] | None
    embedding_model: str | None
    usage: AnalysisUsage = field(default_factory=AnalysisUsage)

    def row(self) -> dict[str, Any]:
        """The columns the store writes (private.worker_store_analysis's p_analysis)."""
        a = self.analysis
        return {
            "summary_text": a.summary,
            "key_topics": list(dict.fromkeys(a.key_topics)),
            "sentiment_score": round(a.sentiment_score, 2),
            "sentiment_label": a.sentiment_label,
            "emotion_detected": a.emotion,
            "intents_detected": list(dict.fromkeys(a.intents)),
            "action_items": [item.model_dump() for item in a.action_items],
            "analyzer": self.analyzer,
            "analysis_model": self.analysis_model,
            "language": self.language,
            "embedding_model": self.embedding_model,
            "input_tokens": self.usage.input_tokens,
            "output_tokens": self.usage.output_tokens,
            "embedding_tokens": self.usage.embedding_tokens,
            "cost_usd": str(self.usage.cost_usd),
        }
