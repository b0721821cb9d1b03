"""The procrastinate tasks: the session chain, deliveries and the schedule.

`build_app` declares them on a fresh procrastinate App (nothing happens at import
time). Retries back off exponentially; a session's last attempt always analyses locally,
so no session is left unanalysed by a flaky OpenAI.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import procrastinate
from procrastinate import JobContext, RetryStrategy

from cloud_api.delivery.deliver import deliver_alert as deliver_alert_now
from cloud_api.jobs import scheduled
from cloud_api.jobs.analysis_job import analyze_session as analyze_session_now
from cloud_api.jobs.runtime import JobRuntime

log = logging.getLogger("jarvis.jobs")
ANALYSIS_ATTEMPTS = 5
DELIVERY_ATTEMPTS = 8


def runtime_of(context: JobContext) -> JobRuntime:
    runtime = context.additional_context["runtime"]
    assert isinstance(runtime, JobRuntime)
    return runtime


async def analyze_session(context: JobContext, session_id: str) -> None:
    attempt = (context.job.attempts or 0) + 1
    await analyze_session_now(
        runtime_of(context),
        UUID(session_id),
        attempt=attempt,
        last_attempt=attempt >= ANALYSIS_ATTEMPTS,
    )


async def deliver_alert(context: JobContext, alert_id: str) -> None:
    await deliver_alert_now(runtime_of(context), UUID(alert_id))


async def requeue_stalled_jobs(app: procrastinate.App, stalled_after_s: float) -> int:
    """Jobs of workers that died mid-job (no heartbeat for `stalled_after_s`) go back to the
    queue; their work is idempotent, so running them again doubles nothing."""
    manager = app.job_manager
    count = 0
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after_s):
        if job.id is None or job.task_name == "requeue_stalled":
            continue
        log.warning("job %s (%s) was running on a dead worker: queued again", job.id, job.task_name)
        await manager.retry_job(job)
        count += 1
    return count


async def requeue_stalled(context: JobContext, timestamp: int) -> None:
    assert context.app is not None
    await requeue_stalled_jobs(context.app, runtime_of(context).settings.worker_stalled_after_s)


def _scheduled(job: scheduled.ScheduledJob) -> Any:
    async def run(context: JobContext, timestamp: int) -> None:
        started = time.monotonic()
        result = await job.run(runtime_of(context), datetime.fromtimestamp(timestamp, UTC))
        log.info("%s done in %.1f s: %s", job.name, time.monotonic() - started, result)

    run.__name__ = job.name
    return run


def build_app(worker_database_url: str, *, pool_max: int = 6) -> procrastinate.App:
    """The job app on the worker's role: tasks, retries and the schedule."""
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=worker_database_url,
            min_size=1,
            max_size=pool_max,
            kwargs={"application_name": "jarvis-worker"},
        )
    )
    app.task(
        name="analyze_session",
        queue="analysis",
        pass_context=True,
        retry=RetryStrategy(max_attempts=ANALYSIS_ATTEMPTS - 1, exponential_wait=2),
    )(analyze_session)
    app.task(
        name="deliver_alert",
        queue="delivery",
        pass_context=True,
        retry=RetryStrategy(max_attempts=DELIVERY_ATTEMPTS - 1, exponential_wait=3),
    )(deliver_alert)
    app.periodic(cron="* * * * *", periodic_id="requeue_stalled")(
        app.task(name="requeue_stalled", queue="scheduled", pass_context=True)(requeue_stalled)
    )
    for job in scheduled.SCHEDULE:
        task = app.task(
            name=job.name,
            queue="scheduled",
            pass_context=True,
            retry=RetryStrategy(max_attempts=2, exponential_wait=10),
        )(_scheduled(job))
        app.periodic(cron=job.cron, periodic_id=job.name)(task)
    return app
