"""A small world for the pipeline's tests: gyms, kiosks, members and stored sessions, written
as an operator (admin connection) so the database's own triggers run as in production."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

from cloud_api.config import CloudSettings
from tests.conftest import PostgresServer


@dataclass(frozen=True)
class Gym:
    id: uuid.UUID
    slug: str
    kiosk_id: uuid.UUID


def worker_settings(postgres: PostgresServer, admin: str, **overrides: Any) -> CloudSettings:
    """Settings of a worker on this database (local analysis unless told otherwise)."""
    from psycopg.conninfo import conninfo_to_dict

    dbname = str(conninfo_to_dict(admin)["dbname"])
    values: dict[str, Any] = {
        "database_url": admin,
        "worker_database_url": postgres.url(dbname, user="jarvis_worker"),
        "analysis_backend": "local",
        "environment": "test",
        "worker_concurrency": 2,
        **overrides,
    }
    return CloudSettings(_env_file=None, **values)  # type: ignore[call-arg]


def add_gym(admin: str, slug: str, *, language: str = "fr", franchise: str | None = None) -> Gym:
    with psycopg.connect(admin) as conn:
        franchise_id = None
        if franchise:
            row = conn.execute(
                "insert into franchises (slug, name) values (%s, %s) on conflict (slug) "
                "do update set name = excluded.name returning id",
                (franchise, franchise),
            ).fetchone()
            assert row
            franchise_id = row[0]
        row = conn.execute(
            "insert into gyms (slug, name, franchise_id) values (%s, %s, %s) returning id",
            (slug, slug.title(), franchise_id),
        ).fetchone()
        assert row
        gym_id = row[0]
        row = conn.execute(
            "insert into kiosks (gym_id, slug, name, language, status, last_heartbeat, provisioned_at) "
            "values (%s, %s, %s, %s, 'online', now(), now()) returning id",
            (gym_id, f"{slug}-k1", f"Kiosk {slug}", language),
        ).fetchone()
        assert row
    return Gym(gym_id, slug, row[0])


def add_member(
    admin: str,
    gym: Gym,
    first_name: str = "Julie",
    *,
    language: str = "fr",
    expires_in_days: int | None = 200,
    last_visit_days_ago: float | None = None,
) -> uuid.UUID:
    member_id = uuid.uuid4()
    expires = (
        date.today() + timedelta(days=expires_in_days) if expires_in_days is not None else None
    )
    last_visit = (
        datetime.now(UTC) - timedelta(days=last_visit_days_ago)
        if last_visit_days_ago is not None
        else None
    )
    with psycopg.connect(admin) as conn:
        conn.execute(
            "insert into gym_members (id, gym_id, badge_id, first_name, membership_expires_on, last_visit) "
            "values (%s, %s, %s, %s, %s, %s)",
            (member_id, gym.id, uuid.uuid4().hex[:8].upper(), first_name, expires, last_visit),
        )
        conn.execute(
            "insert into member_preferences (member_id, gym_id, language) values (%s, %s, %s)",
            (member_id, gym.id, language),
        )
    return member_id


def store_session(
    admin: str,
    gym: Gym,
    member_id: uuid.UUID | None,
    member_lines: list[str],
    *,
    tools: tuple[str, ...] = (),
    days_ago: float = 0,
    language: str = "fr",
    cost_usd: str = "0.02",
) -> uuid.UUID:
    """A closed session with its transcript, stored in one transaction as the upload does."""
    session_id = uuid.uuid4()
    started = datetime.now(UTC) - timedelta(days=days_ago, minutes=3)
    with psycopg.connect(admin) as conn, conn.transaction():
        conn.execute(
            "insert into realtime_sessions (id, gym_id, kiosk_id, member_id, started_at, ended_at, "
            "status, end_reason, model, language, cost_usd, turn_count, tool_calls) "
            "values (%s, %s, %s, %s, %s, %s, 'closed', 'goodbye', 'gpt-realtime-mini', %s, %s, %s, %s)",
            (
                session_id,
                gym.id,
                gym.kiosk_id,
                member_id,
                started,
                started + timedelta(minutes=2),
                language,
                cost_usd,
                2 * len(member_lines),
                json.dumps(
                    [{"call_id": f"c{i}", "name": t, "ok": True} for i, t in enumerate(tools)]
                ),
            ),
        )
        for i, line in enumerate(member_lines):
            for role, text, index in (("user", line, 2 * i), ("assistant", "D'accord.", 2 * i + 1)):
                conn.execute(
                    "insert into conversation_turns (session_id, gym_id, turn_index, role, content) "
                    "values (%s, %s, %s, %s, %s)",
                    (session_id, gym.id, index, role, text),
                )
    return session_id


def one(admin: str, sql: str, params: tuple[Any, ...] = ()) -> Any:
    with psycopg.connect(admin) as conn:
        row = conn.execute(sql.encode(), params).fetchone()
    return None if row is None else (row[0] if len(row) == 1 else row)


def rows(admin: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(admin) as conn:
        return conn.execute(sql.encode(), params).fetchall()


def run_jobs(settings: CloudSettings, work: Any) -> Any:
    """Run `await work(runtime)` with a job runtime on these settings."""
    import asyncio

    from cloud_api.jobs.runtime import JobRuntime

    async def go() -> Any:
        runtime = await JobRuntime.open(settings)
        try:
            return await work(runtime)
        finally:
            await runtime.close()

    return asyncio.run(go())


def analyse_all(settings: CloudSettings) -> int:
    """Analyse every session not analysed yet, as the worker would (local analyzer)."""
    from cloud_api.data import pipeline as store
    from cloud_api.jobs.analysis_job import analyze_session

    async def work(runtime: Any) -> int:
        async with runtime.database.transaction() as conn:
            todo = await store.sessions_to_analyze(conn, older_than_s=0, limit=10_000)
        for session_id in todo:
            await analyze_session(runtime, session_id, attempt=1, last_attempt=True)
        return len(todo)

    return int(run_jobs(settings, work))


def snapshot(admin: str) -> tuple[Any, ...]:
    """Everything the pipeline writes, to compare two runs."""
    return tuple(
        rows(admin, sql)
        for sql in (
            "select session_id, status, summary_text, sentiment_score, key_topics, processed_at, attempts from conversation_summaries order by session_id",
            "select member_id, total_conversations, churn_risk_score, churn_factors, recent_session_starts, updated_at from member_analytics order by member_id",
            "select id, alert_type, status, dedup_key, updated_at from manager_alerts order by id",
            "select count(*) from audit_log",
            "select gym_id, period_start, summary, metrics from insights_reports order by gym_id, franchise_id, period_start",
            "select gym_id, day, sessions, realtime_usd, analysis_usd, updated_at from cost_daily order by gym_id, day",
        )
    )
