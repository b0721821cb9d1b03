"""Rate-limit counters that every API replica shares (migration 20261129001000).

`private.rate_limit_take` charges hits to a (bucket, caller) within a window anchored on the
caller's first hit, and refuses — without counting — a charge that would pass the limit;
`private.rate_limit_sweep` forgets windows that have ended. Only the API's login role may run
them: a request's charge runs before the transaction takes the caller's role (see
`Database.transaction`), other uses in `Database.login_role_transaction`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import sql

from cloud_api.db.database import Conn

TAKE = "select allowed, hits, reset_s from private.rate_limit_take({}, {}, {}, {}, {})"


@dataclass(frozen=True)
class Count:
    allowed: bool
    hits: int  # counted in the current window, this charge included when allowed
    reset_s: int  # seconds until the window ends (then the count starts again from 0)


def take_statement(
    bucket: str, caller: str, limit: int, window_s: int, cost: int = 1
) -> sql.Composed:
    """The charge as one statement, values inlined: it can ride in the message that opens a
    request's transaction (one round trip for both)."""
    values = (bucket, caller, limit, window_s, cost)
    return sql.SQL(TAKE).format(*(sql.Literal(value) for value in values))


def count_from_row(row: dict[str, Any] | None) -> Count:
    assert row is not None, "private.rate_limit_take always answers one row"
    return Count(bool(row["allowed"]), int(row["hits"]), int(row["reset_s"]))


async def take(
    conn: Conn, bucket: str, caller: str, limit: int, window_s: int, cost: int = 1
) -> Count:
    """Charge `cost` hits (0: only look) within `limit` per `window_s` seconds."""
    cur = await conn.execute(take_statement(bucket, caller, limit, window_s, cost))
    return count_from_row(await cur.fetchone())


async def sweep(conn: Conn) -> int:
    """Forget the windows that have ended; how many."""
    row = await (await conn.execute("select private.rate_limit_sweep() as gone")).fetchone()
    assert row is not None
    return int(row["gone"])
