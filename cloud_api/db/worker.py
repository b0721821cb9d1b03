"""The worker's connection pool: the `jarvis_worker` login role, no request claims.

`jarvis_worker` holds no right on tenant tables; every unit of work calls the narrow
SECURITY DEFINER functions of schema `private` granted to it (docs/PIPELINE.md), so the
worker acts across gyms without any role that bypasses row-level security.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from cloud_api.db.errors import DatabaseUnavailable

WorkerConn = psycopg.AsyncConnection[DictRow]


class WorkerDatabase:
    def __init__(self, conninfo: str, *, max_size: int = 4) -> None:
        self._pool: AsyncConnectionPool[WorkerConn] = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=max_size,
            open=False,
            kwargs={"row_factory": dict_row},
            connection_class=psycopg.AsyncConnection[DictRow],
            name="jarvis-worker",
        )

    async def open(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - pool's own timeout
        try:
            await self._pool.open(wait=True, timeout=timeout)
        except Exception as exc:
            await self._pool.close()
            raise DatabaseUnavailable(
                "The worker cannot connect to the database as `jarvis_worker`: check "
                "JARVIS_WORKER_DATABASE_URL (or DATABASE_URL) and that migrations have run."
            ) from exc

    async def close(self) -> None:
        await self._pool.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[WorkerConn]:
        async with self._pool.connection() as conn, conn.transaction():
            yield conn
