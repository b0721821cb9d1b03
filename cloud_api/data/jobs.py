"""The jobs' SQL: the scheduled jobs' definer functions and the queue's own tables, run as
`jarvis_worker`."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from cloud_api.db.worker import WorkerConn


async def daily_churn(conn: WorkerConn, now: datetime) -> dict[str, Any]:
    cur = await conn.execute("select * from private.job_daily_churn(%s)", (now,))
    return dict(await cur.fetchone() or {})


async def kiosk_health(
    conn: WorkerConn, now: datetime, offline_after: timedelta, alert_after: timedelta
) -> dict[str, Any]:
    cur = await conn.execute(
        "select * from private.job_kiosk_health(%s, %s, %s)", (now, offline_after, alert_after)
    )
    return dict(await cur.fetchone() or {})


async def cost_rollup(
    conn: WorkerConn, since: date, budget: Decimal, now: datetime
) -> dict[str, Any]:
    cur = await conn.execute(
        "select * from private.job_cost_rollup(%s, %s, %s)", (since, budget, now)
    )
    return dict(await cur.fetchone() or {})


async def retention(
    conn: WorkerConn,
    now: datetime,
    heartbeats: timedelta,
    transcripts: timedelta,
    sessions: timedelta,
    reports: timedelta,
) -> dict[str, Any]:
    cur = await conn.execute(
        "select private.job_retention(%s, %s, %s, %s, %s) as done",
        (now, heartbeats, transcripts, sessions, reports),
    )
    row = await cur.fetchone()
    return dict(row["done"]) if row else {}


async def weekly_metrics(conn: WorkerConn, week_start: datetime) -> list[dict[str, Any]]:
    cur = await conn.execute("select * from private.worker_weekly_metrics(%s)", (week_start,))
    return list(await cur.fetchall())


async def store_reports(conn: WorkerConn, reports: list[dict[str, Any]]) -> int:
    clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in reports]
    cur = await conn.execute(
        "select private.worker_store_reports(%s) as n", (json.dumps(clean, default=str),)
    )
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def queue_counts(conn: WorkerConn) -> list[dict[str, Any]]:
    """Jobs by task and status (the worker's view of procrastinate's table)."""
    cur = await conn.execute(
        "select task_name, status::text as status, count(*) as n "
        "from procrastinate.procrastinate_jobs group by 1, 2 order by 1, 2"
    )
    return list(await cur.fetchall())
