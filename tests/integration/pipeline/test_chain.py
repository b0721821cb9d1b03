"""A stored session's chain and the scheduled jobs on a real Postgres, as `jarvis_worker`:
analysis → analytics → churn → alerts; every alert rule and its deduplication; the lifecycle
and its audit; jobs run twice → the same state."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from cloud_api.config import CloudSettings
from cloud_api.data import alert_lifecycle as alerts
from cloud_api.db.database import SET_REQUEST_CONTEXT, request_context
from cloud_api.jobs import scheduled
from cloud_api.pipeline.churn import ChurnInputs, churn_risk
from tests.conftest import PostgresServer
from tests.integration.pipeline import world

UNHAPPY = "Le tapis de course est encore en panne, c'est vraiment pénible, j'en ai marre."


@pytest.fixture(scope="module")
def admin(postgres: PostgresServer) -> str:
    return postgres.create_database("chain")


@pytest.fixture(scope="module")
def settings(postgres: PostgresServer, admin: str) -> CloudSettings:
    return world.worker_settings(postgres, admin, gym_monthly_budget_usd=Decimal("1"))


@pytest.fixture(scope="module")
def gym(admin: str) -> world.Gym:
    return world.add_gym(admin, "gym-chain", franchise="franchise-chain")


def job(settings: CloudSettings, name: str, now: datetime | None = None) -> Any:
    return world.run_jobs(
        settings, lambda rt: scheduled.BY_NAME[name].run(rt, now or datetime.now(UTC))
    )


def test_a_session_becomes_a_summary_analytics_and_an_alert(
    admin: str, settings: CloudSettings, gym: world.Gym
) -> None:
    member = world.add_member(admin, gym, "Hugo")
    session = world.store_session(admin, gym, member, ["Quels sont mes cours ?", UNHAPPY])
    assert (
        world.one(
            admin, "select status from conversation_summaries where session_id = %s", (session,)
        )
        == "pending"
    )
    # The job was queued in the transaction that stored the session.
    assert (
        world.one(
            admin,
            "select count(*) from procrastinate.procrastinate_jobs where task_name = 'analyze_session' "
            "and args ->> 'session_id' = %s",
            (str(session),),
        )
        == 1
    )
    assert world.analyse_all(settings) >= 1
    status, label, emotion, topics, intents = world.one(
        admin,
        "select status, sentiment_label, emotion_detected, key_topics, intents_detected "
        "from conversation_summaries where session_id = %s",
        (session,),
    )
    assert (status, label, emotion) == ("done", "negative", "frustration")
    assert "equipment" in topics
    assert "report_issue" in intents
    assert (
        world.one(
            admin,
            "select total_conversations from member_analytics where member_id = %s",
            (member,),
        )
        == 1
    )
    assert world.rows(
        admin, "select alert_type, title from manager_alerts where member_id = %s", (member,)
    ) == [("negative_feedback", "Membre mécontent : Hugo")]
    # Each new alert queued its delivery in the same transaction.
    assert (
        world.one(
            admin,
            "select count(*) from procrastinate.procrastinate_jobs j join manager_alerts a "
            "on a.id::text = j.args ->> 'alert_id' where a.member_id = %s",
            (member,),
        )
        == 1
    )


def test_analysing_again_and_running_every_job_twice_changes_nothing(
    admin: str, settings: CloudSettings, gym: world.Gym
) -> None:
    member = world.add_member(admin, gym, "Léa")
    world.store_session(admin, gym, member, [UNHAPPY])
    world.analyse_all(settings)
    now = datetime.now(UTC)
    for name in ("daily_churn", "kiosk_health", "cost_rollup", "weekly_insights", "retention"):
        job(settings, name, now)
    first = world.snapshot(admin)
    for name in ("daily_churn", "kiosk_health", "cost_rollup", "weekly_insights", "retention"):
        job(settings, name, now)
    assert world.analyse_all(settings) == 0
    assert world.snapshot(admin) == first


# -- churn: the SQL and the rules agree ------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "factors", "level"),
    [
        ("regular", set(), "low"),
        (
            "never_seen_expiring",
            {"no_visit_14_days", "low_engagement", "membership_expiring"},
            "high",
        ),
        (
            "unhappy_and_gone",
            {"no_visit_14_days", "negative_sentiment", "low_engagement", "membership_expiring"},
            "critical",
        ),
        ("quiet_two_weeks", {"no_visit_14_days", "low_engagement"}, "high"),
    ],
)
def test_churn_rules_in_sql_match_the_customer_rules(
    admin: str,
    settings: CloudSettings,
    postgres: PostgresServer,
    case: str,
    factors: set[str],
    level: str,
) -> None:
    gym = world.add_gym(admin, f"churn-{case.replace('_', '-')}")
    if case == "regular":
        member = world.add_member(admin, gym, expires_in_days=300)
        for day in (1, 3, 5, 8):
            world.store_session(admin, gym, member, ["Super séance, merci !"], days_ago=day)
    elif case == "never_seen_expiring":
        member = world.add_member(admin, gym, expires_in_days=10)
    elif case == "unhappy_and_gone":
        member = world.add_member(admin, gym, expires_in_days=12)
        for day in (35, 38, 41, 44):
            world.store_session(admin, gym, member, [UNHAPPY], days_ago=day)
    else:
        member = world.add_member(admin, gym, expires_in_days=200, last_visit_days_ago=16)
    world.analyse_all(settings)
    job(settings, "daily_churn")
    score, stored_level, stored, days, negatives, engagement = world.one(
        admin,
        "select churn_risk_score, churn_risk_level, churn_factors, days_since_last_visit, "
        "negative_sentiment_count, engagement_score from member_analytics_live where member_id = %s",
        (member,),
    )
    expires = world.one(
        admin, "select membership_expires_on from gym_members where id = %s", (member,)
    )
    expected = churn_risk(ChurnInputs(days, negatives, float(engagement), expires, date.today()))
    assert {f["factor"] for f in stored} == factors == set(expected.factors)
    assert (score, stored_level) == (expected.score, expected.level)
    assert stored_level == level
    for f in stored:  # every factor with its weight and the value that triggered it
        assert Decimal(str(f["weight"])) in (Decimal("0.3"), Decimal("0.2"))
        assert "value" in f
    if level == "critical":
        assert (
            world.one(
                admin,
                "select count(*) from manager_alerts where member_id = %s and alert_type = 'churn_risk'",
                (member,),
            )
            == 1
        )
        job(settings, "daily_churn")  # again: still one open alert
        assert (
            world.one(
                admin,
                "select count(*) from manager_alerts where member_id = %s and alert_type = 'churn_risk'",
                (member,),
            )
            == 1
        )


def test_the_nightly_job_scores_only_members_whose_outcome_time_can_move(
    admin: str, settings: CloudSettings
) -> None:
    """Time alone turns a rule on at the recheck date stored with the score; an edit outside
    a session (a badge-in, a renewal) makes the member due at once; every other member is
    left alone, and the job finds what scoring everyone would find."""
    gym = world.add_gym(admin, "nightly-recheck")
    visited = world.add_member(admin, gym, "Léa", expires_in_days=300, last_visit_days_ago=10)
    renewing = world.add_member(admin, gym, "Marc", expires_in_days=300, last_visit_days_ago=1)
    settled = world.add_member(admin, gym, "Zoé", expires_in_days=None)  # never seen: all on
    job(settings, "daily_churn")

    def factors(member: Any) -> set[str]:
        stored = world.one(
            admin, "select churn_factors from member_analytics where member_id = %s", (member,)
        )
        return {f["factor"] for f in stored}

    def recheck(member: Any) -> Any:
        return world.one(
            admin, "select churn_recheck_on from member_analytics where member_id = %s", (member,)
        )

    assert factors(visited) == {"low_engagement"}  # a visit, no session: 0.3 × (1 − 10/30)
    # The 15th day after the last visit (local dates: a day either way of UTC's).
    assert abs((recheck(visited) - (date.today() + timedelta(days=5))).days) <= 1
    assert recheck(settled) is None  # nothing can turn on with time alone
    before = world.one(
        admin,
        "select last_churn_analysis_at from member_analytics where member_id = %s",
        (settled,),
    )
    later = datetime.now(UTC) + timedelta(days=7)
    with psycopg.connect(admin) as conn:  # renewed: the expiry now falls within 30 days
        conn.execute(
            "update gym_members set membership_expires_on = current_date + 12 where id = %s",
            (renewing,),
        )
    assert world.one(  # due at the next run
        admin,
        "select churn_recheck_on <= current_date from member_analytics where member_id = %s",
        (renewing,),
    )
    job(settings, "daily_churn", later)
    assert factors(visited) == {"no_visit_14_days", "low_engagement"}
    assert "membership_expiring" in factors(renewing)
    assert (
        world.one(
            admin,
            "select last_churn_analysis_at from member_analytics where member_id = %s",
            (settled,),
        )
        == before
    )
    # Scoring everyone at that moment finds nothing the nightly job missed.
    with psycopg.connect(admin) as conn:
        moved = conn.execute(
            "select private.score_member_churn(null, %s)", (later + timedelta(seconds=1),)
        ).fetchone()
        assert moved is not None
        changed_outcomes = conn.execute(
            "select count(*) from member_analytics where last_churn_analysis_at = %s",
            (later + timedelta(seconds=1),),
        ).fetchone()
        conn.rollback()
    assert changed_outcomes == (0,)


# -- alert rules and deduplication -----------------------------------------------------------


def test_the_tenth_session_is_a_milestone_once(admin: str, settings: CloudSettings) -> None:
    gym = world.add_gym(admin, "milestones")
    member = world.add_member(admin, gym, "Inès")
    for day in range(9):
        world.store_session(admin, gym, member, ["Merci !"], days_ago=day + 1)
    world.analyse_all(settings)
    assert (
        world.one(
            admin,
            "select count(*) from manager_alerts where member_id = %s and alert_type = 'milestone'",
            (member,),
        )
        == 0
    )
    world.store_session(admin, gym, member, ["Merci !"])
    world.analyse_all(settings)
    world.store_session(admin, gym, member, ["Merci encore !"])
    world.analyse_all(settings)
    assert world.rows(
        admin,
        "select title, dedup_key like '%%sessions_10' from manager_alerts where member_id = %s and alert_type = 'milestone'",
        (member,),
    ) == [("Inès : 10 conversations avec JARVIS", True)]


def test_a_weight_goal_reached_is_a_milestone(admin: str, settings: CloudSettings) -> None:
    gym = world.add_gym(admin, "goals")
    member = world.add_member(admin, gym, "Tom")
    with psycopg.connect(admin) as conn:
        conn.execute(
            "insert into member_fitness_profile (member_id, gym_id, current_weight_kg, target_weight_kg, primary_goals) "
            "values (%s, %s, 80, 75, '{weight_loss}')",
            (member, gym.id),
        )
    job(settings, "daily_churn")
    assert (
        world.one(admin, "select count(*) from manager_alerts where member_id = %s", (member,)) == 0
    )
    with psycopg.connect(admin) as conn:
        conn.execute(
            "update member_fitness_profile set current_weight_kg = 74.5 where member_id = %s",
            (member,),
        )
    job(settings, "daily_churn")
    job(settings, "daily_churn")
    assert world.rows(
        admin, "select alert_type, title from manager_alerts where member_id = %s", (member,)
    ) == [("milestone", "Tom a atteint son objectif de poids")]


def test_a_kiosk_silent_30_minutes_alerts_once_and_resolves_when_back(
    admin: str, settings: CloudSettings
) -> None:
    gym = world.add_gym(admin, "quiet-kiosk")
    with psycopg.connect(admin) as conn:
        conn.execute(
            "update kiosks set last_heartbeat = now() - interval '12 minutes' where id = %s",
            (gym.kiosk_id,),
        )
    job(settings, "kiosk_health")
    assert world.one(admin, "select status from kiosks where id = %s", (gym.kiosk_id,)) == "offline"
    assert (
        world.one(admin, "select count(*) from manager_alerts where kiosk_id = %s", (gym.kiosk_id,))
        == 0
    )
    with psycopg.connect(admin) as conn:
        conn.execute(
            "update kiosks set last_heartbeat = now() - interval '31 minutes' where id = %s",
            (gym.kiosk_id,),
        )
    job(settings, "kiosk_health")
    job(settings, "kiosk_health")
    assert world.rows(
        admin, "select alert_type, status from manager_alerts where kiosk_id = %s", (gym.kiosk_id,)
    ) == [("kiosk_offline", "pending")]
    with psycopg.connect(admin) as conn:  # a heartbeat arrives
        conn.execute(
            "insert into kiosk_heartbeats (kiosk_id, gym_id, status) values (%s, %s, 'online')",
            (gym.kiosk_id, gym.id),
        )
    job(settings, "kiosk_health")
    assert world.rows(
        admin, "select status from manager_alerts where kiosk_id = %s", (gym.kiosk_id,)
    ) == [("resolved",)]


def test_equipment_and_negative_feedback_are_one_open_alert_per_subject(
    admin: str, settings: CloudSettings
) -> None:
    gym = world.add_gym(admin, "dedup")
    member = world.add_member(admin, gym, "Zoé")
    for _ in range(2):
        world.store_session(admin, gym, member, [UNHAPPY])
        world.analyse_all(settings)
    assert (
        world.one(
            admin,
            "select count(*) from manager_alerts where member_id = %s and alert_type = 'negative_feedback'",
            (member,),
        )
        == 1
    )
    with psycopg.connect(admin) as conn:
        for who in ("Zoé", "Max"):
            conn.execute(
                "insert into manager_alerts (gym_id, alert_type, title, context) values (%s, 'equipment_issue', %s, %s) "
                "on conflict do nothing",
                (gym.id, f"Tapis 3 ({who})", '{"equipment": " Tapis 3 "}'),
            )
    assert (
        world.one(
            admin,
            "select count(*) from manager_alerts where gym_id = %s and alert_type = 'equipment_issue'",
            (gym.id,),
        )
        == 1
    )


def test_a_gym_over_its_monthly_budget_gets_one_budget_alert(
    admin: str, settings: CloudSettings
) -> None:
    gym = world.add_gym(admin, "spender")
    world.store_session(admin, gym, None, ["Bonjour"], cost_usd="0.80")
    world.store_session(admin, gym, None, ["Bonjour"], cost_usd="0.70")
    job(settings, "cost_rollup")
    job(settings, "cost_rollup")
    assert world.one(
        admin, "select sessions, realtime_usd from cost_daily where gym_id = %s", (gym.id,)
    ) == (2, Decimal("1.50000"))
    assert (
        world.one(
            admin,
            "select count(*) from manager_alerts where gym_id = %s and alert_type = 'budget'",
            (gym.id,),
        )
        == 1
    )


# -- lifecycle under a user's claims ---------------------------------------------------------


def as_user(conn: psycopg.Connection, user_id: Any) -> None:
    conn.execute(
        SET_REQUEST_CONTEXT, request_context({"sub": str(user_id), "role": "authenticated"})
    )


def test_the_lifecycle_is_enforced_and_every_change_audited(
    postgres: PostgresServer, admin: str, settings: CloudSettings
) -> None:
    import asyncio

    gym = world.add_gym(admin, "lifecycle")
    member = world.add_member(admin, gym, "Nina")
    world.store_session(admin, gym, member, [UNHAPPY])
    world.analyse_all(settings)
    alert_id = world.one(admin, "select id from manager_alerts where member_id = %s", (member,))
    with psycopg.connect(admin) as conn:
        manager, staff = (
            conn.execute(
                "with u as (insert into auth.users (email) values (%s) returning id) "
                "insert into users (id, email, role, gym_id) select id, %s, %s, %s from u returning id",
                (email, email, role, gym.id),
            ).fetchone()[0]  # type: ignore[index]
            for email, role in (
                ("m@lifecycle.test", "gym_manager"),
                ("s@lifecycle.test", "gym_staff"),
            )
        )
    api = postgres.api_url(admin)

    async def change(user: Any, c: alerts.AlertChange) -> Any:
        aconn = await psycopg.AsyncConnection.connect(api, row_factory=psycopg.rows.dict_row)
        async with aconn, aconn.transaction():
            await aconn.execute(
                SET_REQUEST_CONTEXT, request_context({"sub": str(user), "role": "authenticated"})
            )
            return await alerts.transition_alert(aconn, alert_id, c)

    row = asyncio.run(change(manager, alerts.AlertChange(status="in_progress", assigned_to=staff)))
    assert (row["status"], row["assigned_to"]) == ("in_progress", staff)
    with pytest.raises(alerts.AlertForbidden):
        asyncio.run(change(staff, alerts.AlertChange(unassign=True)))
    row = asyncio.run(change(staff, alerts.AlertChange(status="resolved", notes="Tapis réparé")))
    assert row["status"] == "resolved"
    assert row["resolved_at"] is not None
    with pytest.raises(alerts.AlertClosed):
        asyncio.run(change(manager, alerts.AlertChange(status="pending")))
    audit = world.rows(
        admin,
        "select action, actor_id, details ->> 'to' from audit_log where target_id = %s "
        "and action like 'alert.%%' order by id",
        (str(alert_id),),
    )
    assert audit == [
        ("alert.raised", None, None),
        ("alert.status_changed", manager, "in_progress"),
        ("alert.status_changed", staff, "resolved"),
    ]
    other_gym = world.add_gym(admin, "elsewhere")
    with psycopg.connect(admin) as conn:
        stranger = conn.execute(
            "with u as (insert into auth.users (email) values ('x@elsewhere.test') returning id) "
            "insert into users (id, email, role, gym_id) select id, 'x@elsewhere.test', 'gym_manager', %s from u returning id",
            (other_gym.id,),
        ).fetchone()[0]  # type: ignore[index]
    with pytest.raises(alerts.AlertNotFound):
        asyncio.run(change(stranger, alerts.AlertChange(status="dismissed")))


def test_weekly_insights_per_gym_and_franchise(
    admin: str, settings: CloudSettings, gym: world.Gym
) -> None:
    now = datetime.now(UTC)
    start = scheduled.week_start(now)
    member = world.add_member(admin, gym, "Paul")
    days_ago = (now - start).total_seconds() / 86400 - 1  # inside last week
    world.store_session(admin, gym, member, [UNHAPPY], days_ago=days_ago)
    world.analyse_all(settings)
    result = job(settings, "weekly_insights", now)
    assert result["reports"] >= 2
    title, metrics, recommendations, trends = world.one(
        admin,
        "select title, metrics, recommendations, trends from insights_reports where gym_id = %s and period_start = %s",
        (gym.id, start),
    )
    assert title == "Rapport hebdomadaire — Gym-Chain"
    assert metrics["sessions"] >= 1
    assert metrics["top_topics"][0]["topic"] in (
        "equipment",
        "classes",
    )
    assert recommendations
    assert "sessions" in trends
    assert (
        world.one(
            admin,
            "select count(*) from insights_reports where gym_id is null and franchise_id = (select franchise_id from gyms where id = %s)",
            (gym.id,),
        )
        == 1
    )


def test_retention_deletes_and_archives_what_is_old(admin: str, settings: CloudSettings) -> None:
    gym = world.add_gym(admin, "old-data")
    old = world.store_session(admin, gym, None, ["Bonjour"], days_ago=200)
    recent = world.store_session(admin, gym, None, ["Bonjour"], days_ago=1)
    with psycopg.connect(admin) as conn:
        conn.execute(
            "insert into kiosk_heartbeats (kiosk_id, gym_id, status, received_at) values "
            "(%s, %s, 'online', now() - interval '31 days'), (%s, %s, 'online', now() - interval '29 days')",
            (gym.kiosk_id, gym.id, gym.kiosk_id, gym.id),
        )
    job(settings, "retention")
    assert (
        world.one(
            admin, "select count(*) from kiosk_heartbeats where kiosk_id = %s", (gym.kiosk_id,)
        )
        == 1
    )
    assert (
        world.one(admin, "select count(*) from conversation_turns where session_id = %s", (old,))
        == 0
    )
    assert (
        world.one(admin, "select count(*) from conversation_turns where session_id = %s", (recent,))
        == 2
    )
    assert (
        world.one(
            admin, "select archived_at is not null from realtime_sessions where id = %s", (old,)
        )
        is True
    )
    assert (
        world.one(
            admin, "select archived_at is null from realtime_sessions where id = %s", (recent,)
        )
        is True
    )
