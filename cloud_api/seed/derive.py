"""Derive the demo's analytics from its conversations, with the pipeline's own jobs.

Runs as `jarvis_worker`, like the worker: every stored session is analysed (locally: the
demo must look the same with or without an OpenAI key, and cost nothing), then the daily
churn, kiosk health, cost roll-up and weekly insights jobs run once.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from cloud_api.config import CloudSettings
from cloud_api.data import pipeline as store
from cloud_api.jobs import scheduled
from cloud_api.jobs.analysis_job import analyze_session
from cloud_api.jobs.runtime import JobRuntime


async def _derive(settings: CloudSettings) -> dict[str, int]:
    runtime = await JobRuntime.open(settings)
    try:
        async with runtime.database.transaction() as conn:
            pending = await store.sessions_to_analyze(conn, older_than_s=0, limit=1_000_000)
        for session_id in pending:
            await analyze_session(runtime, session_id, attempt=1, last_attempt=True)
        now = runtime.clock()
        await scheduled.daily_churn(runtime, now)
        await scheduled.kiosk_health(runtime, now)
        await scheduled.cost_rollup(runtime, now)
        await scheduled.weekly_insights(runtime, now)
        await scheduled.weekly_insights(runtime, now - timedelta(days=7))
        return {"sessions analysed": len(pending)}
    finally:
        await runtime.close()


def derive_demo(admin_url: str, worker_url: str) -> dict[str, int]:
    settings = CloudSettings(
        _env_file=None,
        database_url=admin_url,
        worker_database_url=worker_url,
        analysis_backend="local",
        gym_monthly_budget_usd=0,
    )
    return asyncio.run(_derive(settings))
