"""Rate-limit counters that every API replica shares (migration 20261129001000).

`private.rate_limit_take` charges hits to a (bucket, caller) within a window anchored on the
caller's first hit, and refuses — without counting — a charge that would pass the limit;
`private.rate_limit_charge` is the same for one request's hit, refusing by raising SQLSTATE
JR429 so that the rest of the request's message never runs; `private.rate_limit_sweep`
forgets windows that have ended. Only the API's login role may run them: a request's charge
runs before the transaction takes the caller's role (see `Database.transaction`), other uses
in `Database.login_role_transaction`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg

from cloud_api.db.database import Conn, Statement

CHARGE = "select hits, reset_s from private.rate_limit_charge({}, {}, {}, {})"
REFUSED = "JR429"  # the SQLSTATE rate_limit_charge refuses with


@dataclass(frozen=True)
class Count:
    allowed: bool
    hits: int  # counted in the current window, this charge included when allowed
    reset_s: int  # seconds until the window ends (then the count starts again from 0)


def charge_statement(bucket: str, caller: str, limit: int, window_s: int) -> Statement:
    """One request's hit, to ride in the message that opens the request's transaction (one
    round trip for both); refused by raising (see `refusal`)."""
    return Statement(CHARGE, (bucket, caller, limit, window_s))


def charged(row: dict[str, Any] | None) -> Count:
    """The count after an allowed `charge_statement`."""
    assert row is not None, "private.rate_limit_charge answers one row when it allows"
    return Count(True, int(row["hits"]), int(row["reset_s"]))


def refusal(error: psycopg.Error) -> Count | None:
    """The count behind `charge_statement`'s refusal, or None for any other error."""
    if error.diag.sqlstate != REFUSED:
        return None
    detail = json.loads(error.diag.message_detail or "{}")
    return Count(False, int(detail.get("hits", 0)), int(detail.get("reset_s", 1)))


def count_from_row(row: dict[str, Any] | None) -> Count:
    assert row is not None, "private.rate_limit_take always answers one row"
    return Count(bool(row["allowed"]), int(row["hits"]), int(row["reset_s"]))


async def take(
    conn: Conn, bucket: str, caller: str, limit: int, window_s: int, cost: int = 1
) -> Count:
    """Charge `cost` hits (0: only look) within `limit` per `window_s` seconds."""
    cur = await conn.execute(
        "select allowed, hits, reset_s from private.rate_limit_take(%s, %s, %s, %s, %s)",
        (bucket, caller, limit, window_s, cost),
    )
    return count_from_row(await cur.fetchone())


async def sweep(conn: Conn) -> int:
    """Forget the windows that have ended; how many."""
    row = await (await conn.execute("select private.rate_limit_sweep() as gone")).fetchone()
    assert row is not None
    return int(row["gone"])
