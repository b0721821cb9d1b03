"""Stopping the agent's background tasks: cancelled, awaited, and what they failed with logged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any


async def stop_tasks(tasks: Iterable[asyncio.Task[Any]], logger: logging.Logger) -> None:
    """Cancel ``tasks`` and wait for them; an error one raises on its way out is logged with
    its traceback (a cancelled task is the expected outcome, not an error). Tasks already
    done are left to whoever watched them end (the agent reports a task that fails)."""
    pending = [task for task in tasks if not task.done()]
    for task in pending:
        task.cancel()
    results = await asyncio.gather(*pending, return_exceptions=True)
    for task, result in zip(pending, results, strict=True):
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            logger.error(
                "task %r failed while stopping: %s", task.get_name(), result, exc_info=result
            )
