"""The job queue and the worker's role: out of reach of anon, authenticated and the API, and
the worker itself limited to the pipeline's definer functions."""

from __future__ import annotations

import psycopg
import pytest

from cloud_api.db.database import SET_REQUEST_CONTEXT, request_context
from tests.conftest import PostgresServer

# Everything the worker may call in `private`: one narrow function per job step.
WORKER_ENTRY_POINTS = {
    "job_cost_rollup",
    "job_daily_churn",
    "job_kiosk_health",
    "job_retention",
    "raise_member_alerts",
    "refresh_member_analytics",
    "worker_alert_deliveries",
    "worker_analysis_failed",
    "worker_analysis_started",
    "worker_delivery_done",
    "worker_digest_deliveries",
    "worker_session_for_analysis",
    "worker_sessions_to_analyze",
    "worker_store_analysis",
    "worker_store_reports",
    "worker_weekly_metrics",
}


def test_no_api_role_reaches_the_queue(migrated_db: str) -> None:
    with psycopg.connect(migrated_db) as conn:
        for role in ("anon", "authenticated", "jarvis_api", "service_role"):
            row = conn.execute(
                "select has_schema_privilege(%s, 'procrastinate', 'usage'), "
                "has_table_privilege(%s, 'procrastinate.procrastinate_jobs', 'select'), "
                "has_function_privilege(%s, 'private.defer_job(text, jsonb, text, text, text, timestamptz)', 'execute')",
                (role, role, role),
            ).fetchone()
            assert row == (False, False, False), role


@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_the_api_connection_cannot_read_or_write_jobs(
    postgres: PostgresServer, migrated_db: str, role: str
) -> None:
    claims = (
        None
        if role == "anon"
        else {"sub": "00000000-0000-0000-0000-000000000001", "role": "authenticated"}
    )
    with psycopg.connect(postgres.api_url(migrated_db)) as conn:
        for sql in (
            "select count(*) from procrastinate.procrastinate_jobs",
            "select procrastinate.procrastinate_defer_jobs_v1(array[]::procrastinate.procrastinate_job_to_defer_v1[])",
            "select private.defer_job('analyze_session', '{}')",
        ):
            with conn.transaction(force_rollback=True):
                conn.execute(SET_REQUEST_CONTEXT, request_context(claims))
                with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                    conn.execute(sql.encode())


def test_the_worker_role_bypasses_nothing(migrated_db: str) -> None:
    with psycopg.connect(migrated_db) as conn:
        row = conn.execute(
            "select rolsuper, rolbypassrls, rolinherit, rolcanlogin, "
            "pg_has_role('jarvis_worker', 'service_role', 'member'), "
            "pg_has_role('jarvis_worker', 'authenticated', 'member'), "
            "pg_has_role('jarvis_api', 'jarvis_worker', 'member') "
            "from pg_roles where rolname = 'jarvis_worker'"
        ).fetchone()
        assert row == (False, False, False, True, False, False, False)
        tables = conn.execute(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'public' and c.relkind = 'r' "
            "and has_table_privilege('jarvis_worker', c.oid, 'select')"
        ).fetchall()
        assert tables == []  # tenant data only through the definer functions below
        callable_ = {
            name
            for (name,) in conn.execute(
                "select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
                "where n.nspname = 'private' and has_function_privilege('jarvis_worker', p.oid, 'execute')"
            )
        }
    assert callable_ == WORKER_ENTRY_POINTS


def test_the_worker_connection_is_refused_tenant_tables(
    postgres: PostgresServer, migrated_db: str
) -> None:
    dbname = migrated_db.split("dbname=")[1].split()[0]
    with psycopg.connect(postgres.url(dbname, user="jarvis_worker")) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute("select count(*) from public.gym_members")
        assert conn.execute("select count(*) from procrastinate_jobs").fetchone() is not None
