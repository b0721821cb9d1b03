"""`jarvis-cloud worker`: runs jobs until SIGTERM or SIGINT.

Several workers (on several machines) share one database: procrastinate hands each job to
exactly one of them (`select … for update skip locked`), LISTEN/NOTIFY wakes them at once,
and periodic jobs are deferred once per tick whatever the number of workers (a unique key per
task and timestamp). A worker killed mid-job stops sending heartbeats; `requeue_stalled`
puts its job back in the queue within a minute, and the job's idempotence means nothing is
done twice.
"""

from __future__ import annotations

import logging
from typing import Any

from cloud_api.config import CloudSettings
from cloud_api.jobs.runtime import JobRuntime
from cloud_api.jobs.tasks import build_app, requeue_stalled_jobs

log = logging.getLogger("jarvis.worker")


async def run_worker(
    settings: CloudSettings,
    *,
    name: str = "worker",
    queues: list[str] | None = None,
    wait: bool = True,
    install_signal_handlers: bool = True,
) -> None:
    """Run jobs until stopped (wait=False: until the queues are empty, then return)."""
    assert settings.worker_database_url
    runtime = await JobRuntime.open(settings)
    app = build_app(settings.worker_database_url, pool_max=settings.worker_concurrency + 2)
    options: dict[str, Any] = {"queues": queues} if queues else {}  # none: every queue
    stalled_after = settings.worker_stalled_after_s
    try:
        async with app.open_async():
            # A worker starting after a crash picks up what the dead one was running.
            await app.job_manager.prune_stalled_workers(stalled_after)
            await requeue_stalled_jobs(app, stalled_after)
            await app.run_worker_async(
                **options,
                name=name,
                concurrency=settings.worker_concurrency,
                wait=wait,
                install_signal_handlers=install_signal_handlers,
                additional_context={"runtime": runtime},
                fetch_job_polling_interval=5,
                update_heartbeat_interval=max(1.0, stalled_after / 4),
                stalled_worker_timeout=stalled_after,
                shutdown_graceful_timeout=20,
                delete_jobs="successful",
            )
    finally:
        await runtime.close()
