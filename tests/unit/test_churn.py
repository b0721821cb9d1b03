from datetime import date
from decimal import Decimal

import pytest

from cloud_api.pipeline.churn import ChurnInputs, churn_risk

TODAY = date(2026, 11, 22)


def inputs(**overrides: object) -> ChurnInputs:
    base: dict[str, object] = {
        "days_since_last_visit": 2,
        "negative_sentiment_count": 0,
        "engagement_score": 0.8,
        "membership_expires_on": date(2027, 6, 1),
        "today": TODAY,
    }
    base.update(overrides)
    return ChurnInputs(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "score", "level", "factors"),
    [
        ({}, "0", "low", ()),
        ({"days_since_last_visit": 15}, "0.3", "medium", ("no_visit_14_days",)),
        ({"days_since_last_visit": 14}, "0", "low", ()),
        ({"negative_sentiment_count": 4}, "0.2", "low", ("negative_sentiment",)),
        ({"negative_sentiment_count": 3}, "0", "low", ()),
        ({"engagement_score": 0.29}, "0.2", "low", ("low_engagement",)),
        ({"membership_expires_on": date(2026, 12, 21)}, "0.2", "low", ("membership_expiring",)),
        ({"membership_expires_on": date(2026, 12, 22)}, "0", "low", ()),
        (
            {"days_since_last_visit": 30, "negative_sentiment_count": 5},
            "0.5",
            "high",
            ("no_visit_14_days", "negative_sentiment"),
        ),
        (
            {
                "days_since_last_visit": None,
                "negative_sentiment_count": 5,
                "engagement_score": 0.1,
                "membership_expires_on": date(2026, 12, 1),
            },
            "0.9",
            "critical",
            ("no_visit_14_days", "negative_sentiment", "low_engagement", "membership_expiring"),
        ),
    ],
)
def test_customer_rules(
    overrides: dict[str, object], score: str, level: str, factors: tuple[str, ...]
) -> None:
    risk = churn_risk(inputs(**overrides))
    assert risk.score == Decimal(score)
    assert risk.level == level
    assert risk.factors == factors
    assert risk.needs_alert == (Decimal(score) > Decimal("0.7"))


def test_every_factor_keeps_its_weight_and_the_value_that_triggered_it() -> None:
    risk = churn_risk(
        inputs(
            days_since_last_visit=21,
            negative_sentiment_count=5,
            engagement_score=0.1,
            membership_expires_on=date(2026, 12, 2),
        )
    )
    assert [(d.factor, d.weight, d.value) for d in risk.details] == [
        ("no_visit_14_days", Decimal("0.3"), 21),
        ("negative_sentiment", Decimal("0.2"), 5),
        ("low_engagement", Decimal("0.2"), 0.1),
        ("membership_expiring", Decimal("0.2"), 10),
    ]
