"""Data generators: a coherent demo, and deterministic, resumable bulk data."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from cloud_api.db.database import SET_REQUEST_CONTEXT, request_context
from cloud_api.seed.demo import DEMO_FRANCHISE_SLUG, seed_demo
from cloud_api.seed.scale import ScalePlan, seed_scale
from tests.conftest import PostgresServer


@pytest.fixture(scope="module")
def demo_db(postgres: PostgresServer) -> str:
    url = postgres.create_database("demo")
    summary = seed_demo(url)
    assert not summary.already_present
    return url


def scalar(url: str, sql: str, params: tuple[object, ...] = ()) -> object:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql.encode(), params).fetchone()
    assert row is not None
    return row[0]


def test_demo_has_the_promised_shape(demo_db: str) -> None:
    assert scalar(demo_db, "select count(*) from gyms") == 4
    assert (
        scalar(
            demo_db,
            "select count(*) from gyms g join franchises f on f.id = g.franchise_id "
            "where f.slug = %s",
            (DEMO_FRANCHISE_SLUG,),
        )
        == 3
    )
    assert scalar(demo_db, "select count(*) from gyms where franchise_id is null") == 1
    assert scalar(demo_db, "select count(*) from gym_members") == 200
    assert scalar(demo_db, "select count(*) from member_fitness_profile") == 200
    languages = scalar(
        demo_db, "select array_agg(distinct language order by language) from member_preferences"
    )
    assert languages == ["en", "fr"]
    assert scalar(demo_db, "select count(*) from kiosks") >= 4
    span = scalar(
        demo_db, "select extract(day from max(started_at) - min(started_at)) from realtime_sessions"
    )
    assert float(str(span)) >= 21  # some weeks of history
    assert scalar(demo_db, "select count(*) from conversation_turns") > 1000
    assert (
        scalar(demo_db, "select count(*) from manager_alerts where alert_type = 'churn_risk'") > 0
    )
    assert scalar(demo_db, "select count(*) from kiosks where status = 'offline'") == 1
    # JARVIS's tools have something to read in every gym.
    assert scalar(demo_db, "select count(distinct gym_id) from knowledge_documents") == 4
    assert scalar(demo_db, "select count(distinct gym_id) from classes") == 4
    # Every session's cost came from its usage, so none is zero.
    assert scalar(demo_db, "select count(*) from realtime_sessions where cost_usd = 0") == 0


def test_demo_seed_twice_adds_nothing(demo_db: str) -> None:
    before = scalar(demo_db, "select count(*) from realtime_sessions")
    assert seed_demo(demo_db).already_present
    assert scalar(demo_db, "select count(*) from realtime_sessions") == before


def test_demo_accounts_see_their_scope(postgres: PostgresServer, demo_db: str) -> None:
    with psycopg.connect(demo_db) as admin:
        ids = dict(admin.execute("select email, id from users").fetchall())
    expected = {
        "admin@jarvis.demo": 200,
        "owner@atlas.demo": 155,
        "manager.bordeaux@atlas.demo": 60,
        "staff.bordeaux@atlas.demo": 60,
        "manager@lestudio.demo": 45,
    }
    with psycopg.connect(postgres.api_url(demo_db)) as conn:
        for email, members in expected.items():
            with conn.transaction(force_rollback=True):
                # The super admin signed in with their second factor (aal2).
                claims = {"sub": str(ids[email]), "role": "authenticated", "aal": "aal2"}
                conn.execute(SET_REQUEST_CONTEXT, request_context(claims))
                row = conn.execute("select count(*) from gym_members").fetchone()
            assert row == (members,), email


def fingerprint(url: str) -> tuple[object, ...]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select (select count(*) from gyms), (select count(*) from franchises), "
            "(select count(*) from gym_members), (select count(*) from realtime_sessions), "
            "(select md5(string_agg(id::text || started_at::text || cost_usd::text, ',' order by id)) "
            " from realtime_sessions), "
            "(select md5(string_agg(member_id::text || churn_risk_score::text, ',' order by member_id)) "
            " from member_analytics)"
        ).fetchone()
    assert row is not None
    return tuple(row)


def test_scale_is_deterministic_and_resumable(postgres: PostgresServer) -> None:
    plan = ScalePlan(
        gyms=12, members_per_gym=20, sessions_per_member=2, epoch=datetime(2026, 11, 1, tzinfo=UTC)
    )
    one_go = postgres.create_database("scale")
    result = seed_scale(one_go, plan)
    assert (result.gyms, result.members, result.sessions) == (12, 240, 480)

    resumed = postgres.create_database("scale")
    seed_scale(resumed, ScalePlan(gyms=5, members_per_gym=20, sessions_per_member=2))
    seed_scale(resumed, plan)
    seed_scale(resumed, plan)  # nothing left to do: adds nothing
    assert fingerprint(resumed) == fingerprint(one_go)
    gyms, franchises = fingerprint(one_go)[:2]
    assert (gyms, franchises) == (12, 2)  # ten gyms per franchise
    assert scalar(one_go, "select count(*) from gyms where franchise_id is null") == 1
    assert scalar(one_go, "select count(*) from users where role = 'gym_manager'") == 12
