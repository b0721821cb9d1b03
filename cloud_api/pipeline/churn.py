"""Churn risk from the customer's rules, as a pure function.

The daily job and the session chain compute the same rules in SQL, set-based
(private.refresh_member_analytics, migration 20261129002200); tests hold the two to the same
table of cases. Each factor is kept with its weight and the value that triggered it.

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
class ChurnFactor:
    factor: str
    weight: Decimal
    value: float | int | None


@dataclass(frozen=True)
class ChurnRisk:
    score: Decimal
    level: str
    details: tuple[ChurnFactor, ...]

    @property
    def factors(self) -> tuple[str, ...]:
        return tuple(d.factor for d in self.details)

    @property
    def needs_alert(self) -> bool:
        return self.score > ALERT_THRESHOLD


def churn_risk(inputs: ChurnInputs) -> ChurnRisk:
    found: list[ChurnFactor] = []
    days = inputs.days_since_last_visit
    if days is None or days > 14:
        found.append(ChurnFactor("no_visit_14_days", Decimal("0.3"), days))
    if inputs.negative_sentiment_count > 3:
        found.append(
            ChurnFactor("negative_sentiment", Decimal("0.2"), inputs.negative_sentiment_count)
        )
    if inputs.engagement_score is not None and inputs.engagement_score < 0.3:
        found.append(ChurnFactor("low_engagement", Decimal("0.2"), inputs.engagement_score))
    if inputs.membership_expires_on is not None:
        left = (inputs.membership_expires_on - inputs.today).days
        if left < 30:
            found.append(ChurnFactor("membership_expiring", Decimal("0.2"), left))
    score = min(sum((f.weight for f in found), Decimal("0")), Decimal("1"))
    return ChurnRisk(score=score, level=risk_level(score), details=tuple(found))


def risk_level(score: Decimal) -> str:
    if score > ALERT_THRESHOLD:
        return "critical"
    if score >= Decimal("0.5"):
        return "high"
    if score >= Decimal("0.3"):
        return "medium"
    return "low"
