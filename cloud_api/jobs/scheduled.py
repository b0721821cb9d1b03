"""The scheduled jobs, each one function shared by the worker's periodic task and
`jarvis-cloud jobs run NAME`. Every one is set-based SQL and idempotent: run twice, the
second run changes nothing."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cloud_api.data import jobs as store
from cloud_api.data import pipeline as pipeline_store
from cloud_api.delivery.deliver import deliver_digests
from cloud_api.jobs.runtime import JobRuntime
from cloud_api.pipeline import insights

log = logging.getLogger("jarvis.jobs")

JobResult = dict[str, Any]


async def kiosk_health(rt: JobRuntime, now: datetime) -> JobResult:
    s = rt.settings
    async with rt.database.transaction() as conn:
        return await store.kiosk_health(
            conn,
            now,
            timedelta(minutes=s.kiosk_offline_after_min),
            timedelta(minutes=s.kiosk_alert_after_min),
        )


async def daily_churn(rt: JobRuntime, now: datetime) -> JobResult:
    async with rt.database.transaction() as conn:
        return await store.daily_churn(conn, now)


def week_start(now: datetime) -> datetime:
    """Monday 00:00 UTC of the week before `now`'s week: the last complete week."""
    monday = (now - timedelta(days=now.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return monday - timedelta(days=7)


async def weekly_insights(rt: JobRuntime, now: datetime) -> JobResult:
    start = week_start(now)
    async with rt.database.transaction() as conn:
        rows = await store.weekly_metrics(conn, start)
    reports = insights.build_reports(rows, start)
    written_by_model = 0
    if rt.openai is not None and rt.settings.analysis_backend != "local":
        for report in reports:
            written = await insights.model_recommendations(
                rt.openai,
                rt.settings.analysis_model,
                report,
                report["_language"],
                rt.settings.analysis_max_output_tokens,
            )
            if written is not None:
                report["summary"], report["recommendations"] = (
                    written.summary,
                    written.recommendations,
                )
                written_by_model += 1
    async with rt.database.transaction() as conn:
        changed = await store.store_reports(conn, reports)
    return {
        "week_start": start.date().isoformat(),
        "reports": len(reports),
        "changed": changed,
        "written_by_model": written_by_model,
    }


async def retention(rt: JobRuntime, now: datetime) -> JobResult:
    s = rt.settings
    async with rt.database.transaction() as conn:
        return await store.retention(
            conn,
            now,
            timedelta(days=s.retention_heartbeat_days),
            timedelta(days=s.retention_transcript_days),
            timedelta(days=s.retention_session_archive_days),
            timedelta(days=s.retention_report_archive_days),
        )


async def cost_rollup(rt: JobRuntime, now: datetime) -> JobResult:
    since = (now - timedelta(days=35)).date()  # the whole month, whatever today is
    async with rt.database.transaction() as conn:
        return await store.cost_rollup(conn, since, rt.settings.gym_monthly_budget_usd, now)


async def daily_digest(rt: JobRuntime, now: datetime) -> JobResult:
    report = await deliver_digests(rt, now.date())
    return {"sent": report.sent}


async def reanalyze(rt: JobRuntime, now: datetime) -> JobResult:
    """Sessions whose analysis was lost or failed: analysed again, here and now."""
    from cloud_api.jobs.analysis_job import analyze_session

    async with rt.database.transaction() as conn:
        todo = await pipeline_store.sessions_to_analyze(conn, older_than_s=120, limit=500)
    done = 0
    for session_id in todo:
        outcome = await analyze_session(rt, session_id, attempt=0, last_attempt=True)
        done += outcome.status == "analysed"
    return {"found": len(todo), "analysed": done}


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    cron: str
    description: str
    run: Callable[[JobRuntime, datetime], Awaitable[JobResult]]


SCHEDULE: tuple[ScheduledJob, ...] = (
    ScheduledJob(
        "kiosk_health",
        "*/5 * * * *",
        "kiosks silent 10 min → offline; 30 min → alert",
        kiosk_health,
    ),
    ScheduledJob(
        "daily_churn",
        "0 2 * * *",
        "every member's analytics and churn risk, churn alerts",
        daily_churn,
    ),
    ScheduledJob(
        "weekly_insights", "0 6 * * 1", "last week's report per gym and franchise", weekly_insights
    ),
    ScheduledJob(
        "retention",
        "0 3 * * 0",
        "delete old heartbeats and transcripts, archive sessions and reports",
        retention,
    ),
    ScheduledJob("cost_rollup", "10 * * * *", "spend per gym and day, budget alerts", cost_rollup),
    ScheduledJob(
        "daily_digest", "0 7 * * *", "yesterday's alerts to digest recipients", daily_digest
    ),
    ScheduledJob(
        "reanalyze", "*/10 * * * *", "sessions whose analysis was lost or failed", reanalyze
    ),
)
BY_NAME = {job.name: job for job in SCHEDULE}
