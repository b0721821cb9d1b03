"""`jarvis-cloud worker` and `jarvis-cloud jobs list | run NAME`."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Annotated

import typer

from cloud_api.cli.common import database, fail, guarded, load_settings
from cloud_api.cli.serving import prepare_schema

jobs_app = typer.Typer(help="Scheduled jobs: list them, run one now.", no_args_is_help=True)


def worker(
    name: Annotated[str, typer.Option(help="Name of this worker in logs.")] = "worker",
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Jobs run at once (JARVIS_WORKER_CONCURRENCY)."),
    ] = None,
) -> None:
    """Run jobs (session analysis, deliveries, the schedule) until Ctrl-C or SIGTERM.

    Start as many as you like, on as many machines: each job runs once."""
    from cloud_api.jobs.worker import run_worker

    settings = load_settings()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    with database(settings) as resolved:
        prepare_schema(resolved, embedded=settings.uses_embedded_database)
        if concurrency:
            resolved = resolved.model_copy(update={"worker_concurrency": concurrency})
        typer.echo(f"JARVIS worker {name!r}: {resolved.worker_concurrency} job(s) at once")
        guarded(lambda: asyncio.run(run_worker(resolved, name=name)))


@jobs_app.command("list")
def jobs_list() -> None:
    """The scheduled jobs, their schedule (UTC cron) and the queue's state."""
    from cloud_api.data import jobs as store
    from cloud_api.jobs.runtime import JobRuntime
    from cloud_api.jobs.scheduled import SCHEDULE

    for job in SCHEDULE:
        typer.echo(f"{job.name:<16} {job.cron:<13} {job.description}")
    typer.echo(
        f"{'analyze_session':<16} {'on session':<13} "
        "a stored session's analysis, analytics, churn and alerts"
    )
    typer.echo(
        f"{'deliver_alert':<16} {'on alert':<13} a new alert to its recipients (email, webhooks)"
    )

    async def counts() -> list[dict[str, object]]:
        runtime = await JobRuntime.open(resolved)
        try:
            async with runtime.database.transaction() as conn:
                return await store.queue_counts(conn)
        finally:
            await runtime.close()

    with database(load_settings()) as resolved:
        rows = guarded(lambda: asyncio.run(counts()))
    typer.echo(
        "queue: " + (", ".join(f"{r['task_name']} {r['status']} {r['n']}" for r in rows) or "empty")
    )


@jobs_app.command("run")
def jobs_run(
    name: Annotated[str, typer.Argument(help="A job from `jarvis-cloud jobs list`.")],
) -> None:
    """Run one scheduled job now, in this process, and print what it did."""
    from cloud_api.jobs.runtime import JobRuntime
    from cloud_api.jobs.scheduled import BY_NAME

    job = BY_NAME.get(name)
    if job is None:
        raise fail(f"no job named {name!r}: choose one of {', '.join(BY_NAME)}")

    async def run() -> dict[str, object]:
        runtime = await JobRuntime.open(resolved)
        try:
            return await job.run(runtime, runtime.clock())
        finally:
            await runtime.close()

    with database(load_settings()) as resolved:
        result = guarded(lambda: asyncio.run(run()))
    typer.echo(f"{name}: {json.dumps(result, default=str)}")
