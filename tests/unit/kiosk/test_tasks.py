"""Stopping background tasks: what fails on the way out is logged, not swallowed."""

from __future__ import annotations

import asyncio
import logging

import pytest

from kiosk_agent.tasks import stop_tasks


async def test_a_task_failing_while_it_stops_is_logged_and_the_others_still_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def quiet() -> None:
        await asyncio.Event().wait()

    async def fails_on_cancel() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            raise RuntimeError("the sound card vanished while closing")

    async def already_done() -> None:
        return None

    tasks = [
        asyncio.create_task(quiet(), name="heartbeat"),
        asyncio.create_task(fails_on_cancel(), name="audio"),
        asyncio.create_task(already_done(), name="done"),
    ]
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR):
        await stop_tasks(tasks, logging.getLogger("test"))
    assert all(task.done() for task in tasks)
    [record] = caplog.records
    assert record.getMessage() == (
        "task 'audio' failed while stopping: the sound card vanished while closing"
    )
    assert record.exc_info is not None
