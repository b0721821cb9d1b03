"""Let background tasks run until something holds; tests assert outcomes, never timings."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(condition: Callable[[], bool], attempts: int = 5000) -> None:
    """Yield to the event loop until ``condition`` holds; fail if it never does."""
    for _ in range(attempts):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition never held")
