"""Churn risk from the customer's rules (a pure function; the daily job and the pipeline call it).

    days since last visit > 14        +0.3
    negative sentiments > 3           +0.2
    engagement score < 0.3            +0.2
    membership expires in < 30 days   +0.2

A score above 0.7 raises a manager alert. Levels: < 0.3 low, < 0.5 medium, ≤ 0.7 high,
above 0.7 critical.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

ALERT_THRESHOLD = Decimal("0.7")


@dataclass(frozen=True)
class ChurnInputs:
    days_since_last_visit: int | None
    negative_sentiment_count: int
    engagement_score: float | None
    membership_expires_on: date | None
    today: date


@dataclass(frozen=True)
class ChurnRisk:
    score: Decimal
    level: str
    factors: tuple[str, ...]

    @property
    def needs_alert(self) -> bool:
        return self.score > ALERT_THRESHOLD


def churn_risk(inputs: ChurnInputs) -> ChurnRisk:
    score = Decimal("0")
    factors: list[str] = []
    if inputs.days_since_last_visit is None or inputs.days_since_last_visit > 14:
        score += Decimal("0.3")
        factors.append("no_visit_14_days")
    if inputs.negative_sentiment_count > 3:
        score += Decimal("0.2")
        factors.append("negative_sentiment")
    if inputs.engagement_score is not None and inputs.engagement_score < 0.3:
        score += Decimal("0.2")
        factors.append("low_engagement")
    if (
        inputs.membership_expires_on is not None
        and (inputs.membership_expires_on - inputs.today).days < 30
    ):
        score += Decimal("0.2")
        factors.append("membership_expiring")
    score = min(score, Decimal("1"))
    return ChurnRisk(score=score, level=risk_level(score), factors=tuple(factors))


def risk_level(score: Decimal) -> str:
    if score > ALERT_THRESHOLD:
        return "critical"
    if score >= Decimal("0.5"):
        return "high"
    if score >= Decimal("0.3"):
        return "medium"
    return "low"
