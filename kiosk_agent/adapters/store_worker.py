"""The store as the asyncio agent uses it: every call on one dedicated thread, failures kept.

SQLite commits fsync (see store.py), which can take tens of milliseconds on an SD card; the
event loop also carries live audio, so store calls run on their own thread, one at a time,
in the order they were made.

The worker never raises into a crash loop: it remembers the last failure as the store's
health (shown in heartbeats and ``status``), reopens the store after a failure (a damaged
file is set aside and replaced by ``open_store``), and clears the failure on the next
successful write.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from kiosk_agent.adapters.store import KioskStore
from kiosk_agent.adapters.store_base import StoreCorrupt, StoreError, StoreUnavailable
from kiosk_agent.adapters.store_open import open_store
from kiosk_agent.config import StoreSection

logger = logging.getLogger(__name__)

T = TypeVar("T")


class StoreWorker:
    def __init__(self, path: Path, settings: StoreSection) -> None:
        self.path = path
        self.settings = settings
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kiosk-store")
        self._store: KioskStore | None = None
        self.problem: str | None = None
        """Why the last write failed (None once a write succeeds again)."""
        self.incidents: list[str] = []
        """Damaged databases replaced while this process ran."""

    @property
    def is_open(self) -> bool:
        return self._store is not None

    async def open(self) -> bool:
        """Open the store; False (with ``problem`` set and logged) when it cannot be."""
        try:
            store = await self._in_thread(lambda: open_store(self.path, self.settings))
        except StoreError as exc:
            self._fail(exc)
            return False
        self._store = store
        if store.incident is not None:
            self.incidents.append(store.incident.message)
        return True

    async def read(self, action: Callable[[KioskStore], T]) -> T:
        return await self._call(action, write=False)

    async def write(self, action: Callable[[KioskStore], T]) -> T:
        return await self._call(action, write=True)

    async def _call(self, action: Callable[[KioskStore], T], *, write: bool) -> T:
        if self._store is None and not await self.open():
            raise StoreUnavailable(self.problem or f"the store {self.path} cannot be opened")
        store = self._store
        assert store is not None
        try:
            result = await self._in_thread(lambda: action(store))
        except StoreCorrupt as exc:
            self._fail(exc)
            await self._reopen()
            raise
        except StoreError as exc:
            self._fail(exc)
            raise
        if write and self.problem is not None:
            logger.info("the store accepts writes again")
            self.problem = None
        return result

    async def _reopen(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            await self._in_thread(store.close)
        await self.open()

    def _fail(self, exc: StoreError) -> None:
        message = str(exc)
        if message != self.problem:
            logger.error("local store: %s", message)
        self.problem = message

    async def _in_thread(self, action: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, action)

    async def close(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            await self._in_thread(store.close)
        self._executor.shutdown(wait=True)
