"""RLS-scoped units of work on a psycopg 3 async pool.

Each unit of work is one transaction that first runs, exactly as PostgREST does,

    select set_config('role', <role>, true), set_config('request.jwt.claims', <claims>, true)

so Supabase's `auth.uid()` and `auth.jwt()` see the caller, and row-level security decides
what the transaction may touch. Both settings are transaction-local (`true`): when the
transaction ends they vanish, so nothing leaks into the next user of a pooled connection.
The pool connects as the NOINHERIT role `jarvis_api`, which holds no privilege of its own
and can only become `anon` or `authenticated` — never a role that bypasses RLS.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from cloud_api.db.errors import DatabaseUnavailable

Claims = Mapping[str, Any]
# The connection every data function takes: a transaction, rows as dicts.
Conn = psycopg.AsyncConnection[DictRow]

# The only roles a request may take; the pool's login role is not a member of any other.
REQUEST_ROLES = frozenset({"anon", "authenticated"})

SET_REQUEST_CONTEXT = (
    "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)"
)
# Options ride on the same statement (one round trip, not two).
NOT_DURABLE = ", set_config('synchronous_commit', 'off', true)"
STATEMENT_TIMEOUT = ", set_config('statement_timeout', %s, true)"


def request_context(claims: Claims | None) -> tuple[str, str]:
    """The (role, claims JSON) pair a transaction sets for these claims; None is anon."""
    effective: dict[str, Any] = dict(claims) if claims else {"role": "anon"}
    role = effective.get("role", "anon")
    if role not in REQUEST_ROLES:
        raise ValueError(f"claims role {role!r} is not one of {sorted(REQUEST_ROLES)}")
    return role, json.dumps(effective, separators=(",", ":"), default=str)


class Database:
    """The API's connection pool; `transaction(claims)` is the only way to run SQL."""

    def __init__(self, conninfo: str, *, min_size: int = 2, max_size: int = 10) -> None:
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[DictRow]] = AsyncConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            open=False,
            kwargs={"row_factory": dict_row},
            connection_class=psycopg.AsyncConnection[DictRow],
            name="jarvis-api",
        )

    async def open(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - pool's own timeout
        try:
            await self._pool.open(wait=True, timeout=timeout)
        except psycopg.errors.Error as exc:
            await self._pool.close()
            raise DatabaseUnavailable(f"The API cannot connect to the database: {exc}") from exc
        except Exception as exc:  # psycopg_pool.PoolTimeout and friends
            await self._pool.close()
            raise DatabaseUnavailable(
                "The API cannot connect to the database as `jarvis_api`: check "
                "JARVIS_API_DATABASE_URL (or DATABASE_URL) and that migrations have run."
            ) from exc

    async def close(self) -> None:
        await self._pool.close()

    @asynccontextmanager
    async def transaction(
        self,
        claims: Claims | None,
        *,
        durable: bool = True,
        statement_timeout_ms: int | None = None,
    ) -> AsyncIterator[Conn]:
        """One transaction as the caller: commits on success, rolls back on any error.

        `durable=False` lets the commit return before its WAL is flushed: for data that is
        superseded soon anyway (heartbeats). A database crash may lose the last fraction of a
        second of such work; it never corrupts anything, and session records stay durable.
        `statement_timeout_ms` cancels any statement of the transaction that runs longer."""
        role, claims_json = request_context(claims)
        statement = SET_REQUEST_CONTEXT
        params: list[str] = [role, claims_json]
        if not durable:
            statement += NOT_DURABLE
        if statement_timeout_ms is not None:
            statement += STATEMENT_TIMEOUT
            params.append(f"{statement_timeout_ms}ms")
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(statement, params)
            yield conn

    def stats(self) -> dict[str, int]:
        return dict(self._pool.get_stats())
