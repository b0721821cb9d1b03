"""A block clock for devices without hardware: file-backed inputs and outputs, the null
output, and simulations. It calls ``tick`` every block period from its own thread, on an
absolute schedule so the average rate is exact even when one tick runs late, as a sound
card's clock would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class BlockClock:
    """Calls ``tick(now)`` every ``period_s / speed`` seconds until stopped."""

    def __init__(
        self, period_s: float, tick: Callable[[float], None], name: str, speed: float = 1.0
    ) -> None:
        if period_s <= 0 or speed <= 0:
            raise ValueError(f"period and speed must be positive, got {period_s}, {speed}")
        self._interval = period_s / speed
        self._tick = tick
        self._name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.late_ticks = 0
        """Ticks that started more than a whole period late (a real device would glitch)."""

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self._name} clock already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        due = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if now - due > self._interval:
                self.late_ticks += 1
                due = now  # resynchronise rather than fire a burst of catch-up ticks
            self._tick(now)
            due += self._interval
            delay = due - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
