"""RLS-scoped units of work on a psycopg 3 async pool.

Each unit of work is one transaction that first runs, exactly as PostgREST does,

    select set_config('role', <role>, true), set_config('request.jwt.claims', <claims>, true)

so Supabase's `auth.uid()` and `auth.jwt()` see the caller, and row-level security decides
what the transaction may touch. Both settings are transaction-local (`true`): when the
transaction ends they vanish, so nothing leaks into the next user of a pooled connection.
The pool connects as the NOINHERIT role `jarvis_api`, which holds no privilege of its own
beyond the shared rate limiter's two functions, and can only become `anon` or
`authenticated` — never a role that bypasses RLS.

`BEGIN` and the settings travel in one message (the simple query protocol, values quoted by
psycopg), so opening a transaction costs one round trip, not two. A request may also stage a
`Prelude` (its rate-limit charge): it runs first in that same message, in a transaction of
its own, as the login role.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from typing import Any, Protocol

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus
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
# The same, opening a transaction, as one simple-protocol message with values inlined.
_OPEN = "begin; " + SET_REQUEST_CONTEXT.replace("%s", "{}")
# Options ride on the same statement.
NOT_DURABLE = ", set_config('synchronous_commit', 'off', true)"
STATEMENT_TIMEOUT = ", set_config('statement_timeout', {}, true)"


class Prelude(Protocol):
    """One statement a request runs before its first transaction, in its own transaction
    (committed whatever the request's fate) but in the same round trip: the rate limiter's
    charge (`cloud_api.ratelimit.Charge`). `settle` gets its row and may refuse the request
    by raising."""

    def take(self) -> bool: ...

    def statement(self) -> sql.Composed: ...

    def settle(self, row: dict[str, Any] | None) -> None: ...


_PRELUDE: ContextVar[Prelude | None] = ContextVar("jarvis_request_prelude", default=None)


def stage_prelude(prelude: Prelude) -> None:
    """Run `prelude` with the current request's (task's) first transaction."""
    _PRELUDE.set(prelude)


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
            # Autocommit: transactions are opened by our own message (BEGIN and the claims in
            # one round trip), never by psycopg's separate BEGIN.
            kwargs={"row_factory": dict_row, "autocommit": True},
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
        `statement_timeout_ms` cancels any statement of the transaction that runs longer.
        The request's staged prelude (its rate-limit charge), if not run yet, runs first."""
        role, claims_json = request_context(claims)
        opening = _OPEN + (NOT_DURABLE if not durable else "")
        values: list[sql.Composable] = [sql.Literal(role), sql.Literal(claims_json)]
        if statement_timeout_ms is not None:
            opening += STATEMENT_TIMEOUT
            values.append(sql.Literal(f"{int(statement_timeout_ms)}ms"))
        message: sql.Composed = sql.SQL(opening).format(*values)
        prelude = _PRELUDE.get()
        if prelude is not None and prelude.take():
            message = sql.SQL("begin; {}; commit; ").format(prelude.statement()) + message
        else:
            prelude = None
        async with self._pool.connection() as conn, _ending(conn):
            cur = await conn.execute(message, prepare=False)
            if prelude is not None:
                cur.nextset()  # from BEGIN's result to the prelude's row
                prelude.settle(await cur.fetchone())
            yield conn

    @asynccontextmanager
    async def login_role_transaction(self) -> AsyncIterator[Conn]:
        """A transaction as the pool's login role itself, under no caller's claims: it may
        run only what `jarvis_api` was granted (the rate limiter's functions)."""
        async with self._pool.connection() as conn, _ending(conn):
            await conn.execute("begin", prepare=False)
            yield conn

    def stats(self) -> dict[str, int]:
        return dict(self._pool.get_stats())


@asynccontextmanager
async def _ending(conn: Conn) -> AsyncIterator[None]:
    """Commit the connection's open transaction when the block succeeds, else roll it back."""
    try:
        yield
    except BaseException:
        if conn.pgconn.transaction_status != TransactionStatus.IDLE:
            # A broken connection cannot roll back: the pool discards it; the block's own
            # error is the one that matters.
            with suppress(psycopg.Error):
                await conn.rollback()
        raise
    else:
        await conn.commit()
