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
libpq's PQescapeLiteral for the connection at hand), so opening a transaction costs one round
trip, not two; a unit of work that is a single statement (`one_statement`) sends its
statement and `COMMIT` in that message too. A request may also stage a `Prelude` (its
rate-limit charge): it runs first in that same message, in a transaction of its own, as the
login role; when it refuses the request (by raising), the rest of the message never runs.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
from psycopg import pq
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

Value = str | int | None


@dataclass(frozen=True)
class Statement:
    """SQL with `{}` where values go (`{{`, `}}` for braces), inlined as quoted literals when
    it is sent: statements that travel in one simple-protocol message with others, where
    bound parameters cannot go."""

    template: str
    values: tuple[Value, ...] = ()

    def __add__(self, other: Statement) -> Statement:
        return Statement(f"{self.template}; {other.template}", self.values + other.values)

    def render(self, conn: Conn) -> bytes:
        """The SQL text, values quoted for this connection (its encoding and settings)."""
        escaping, encoding = pq.Escaping(conn.pgconn), conn.info.encoding
        quoted = (_quoted(escaping, encoding, value) for value in self.values)
        return self.template.format(*quoted).encode(encoding)


def _quoted(escaping: pq.abc.Escaping, encoding: str, value: Value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if "\x00" in value:  # libpq stops a message at NUL: refuse it, as psycopg's own quoting does
        raise psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
    return escaping.escape_literal(value.encode(encoding)).decode(encoding)


class Prelude(Protocol):
    """One statement a request runs before its first transaction, in its own transaction
    (committed whatever the request's fate) but in the same round trip: the rate limiter's
    charge (`cloud_api.ratelimit.Charge`). `settle` gets its row; when the statement raises,
    `refused` turns that error into the request's refusal (None: not a refusal)."""

    def take(self) -> bool: ...

    def statement(self) -> Statement: ...

    def settle(self, row: dict[str, Any] | None) -> None: ...

    def refused(self, error: psycopg.Error) -> Exception | None: ...


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
    """The API's connection pool. Requests run SQL through `transaction(claims)`, or
    `one_statement(claims, ...)` for a unit of work that is a single statement; only the
    rate limiter's own work (the sweep, per-key limits) uses `login_role_transaction`."""

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
        message, prelude = _opening(claims, durable, statement_timeout_ms)
        async with self._pool.connection() as conn, _ending(conn):
            await _send(conn, message, prelude)
            yield conn

    async def one_statement(
        self, claims: Claims | None, statement: Statement, *, durable: bool = True
    ) -> dict[str, Any] | None:
        """A unit of work that is one statement (values inlined), as the caller: BEGIN, the
        claims, the statement and COMMIT travel in one message — one round trip. Its first
        row, if any."""
        opening, prelude = _opening(claims, durable, None)
        message = opening + statement + Statement("commit")
        async with self._pool.connection() as conn, _ending(conn):
            cur = await _send(conn, message, prelude)
            cur.nextset()  # from the claims' row to the statement's rows
            return await cur.fetchone()

    @asynccontextmanager
    async def login_role_transaction(self) -> AsyncIterator[Conn]:
        """A transaction as the pool's login role itself, under no caller's claims: it may
        run only what `jarvis_api` was granted (the rate limiter's functions)."""
        async with self._pool.connection() as conn, _ending(conn):
            await conn.execute(b"begin", prepare=False)
            yield conn

    def stats(self) -> dict[str, int]:
        return dict(self._pool.get_stats())


def _opening(
    claims: Claims | None, durable: bool, statement_timeout_ms: int | None
) -> tuple[Statement, Prelude | None]:
    """The message that opens a transaction as the caller, led by the request's staged
    prelude when this is its first transaction."""
    role, claims_json = request_context(claims)
    opening = _OPEN + (NOT_DURABLE if not durable else "")
    values: tuple[Value, ...] = (role, claims_json)
    if statement_timeout_ms is not None:
        opening += STATEMENT_TIMEOUT
        values += (f"{int(statement_timeout_ms)}ms",)
    message = Statement(opening, values)
    prelude = _PRELUDE.get()
    if prelude is None or not prelude.take():
        return message, None
    return Statement("begin") + prelude.statement() + Statement("commit") + message, prelude


async def _send(
    conn: Conn, message: Statement, prelude: Prelude | None
) -> psycopg.AsyncCursor[DictRow]:
    """Send an opening message; the cursor stands on the claims' row. A prelude's refusal
    (its statement raised) becomes the request's."""
    try:
        cur = await conn.execute(message.render(conn), prepare=False)
    except psycopg.Error as exc:
        refusal = prelude.refused(exc) if prelude is not None else None
        if refusal is not None:
            raise refusal from None
        raise
    if prelude is not None:
        cur.nextset()  # from BEGIN's result to the prelude's row
        prelude.settle(await cur.fetchone())
        cur.nextset()  # COMMIT
        cur.nextset()  # BEGIN
    cur.nextset()  # from BEGIN's result to the claims' row
    return cur


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
