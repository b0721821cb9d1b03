"""What the dashboard's data modules share: the connection type, the gym filter, cursors."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg.rows import DictRow

from cloud_api.db.database import Conn


class CursorError(ValueError):
    """A page cursor that this server did not make (tampered or from another sort)."""


Scope = tuple[UUID, ...] | None
"""The gyms a page looks at: one gym, or every gym the caller can see; None past
SCOPE_LIMIT gyms (an operator looking at everything)."""

SCOPE_LIMIT = 1000


def gym_filter(column: str, scope: Scope) -> sql.Composable:
    """`and <column> = any(<the scope's gyms>)`, nothing for None.

    Not a permission check — RLS decides what is visible — but the index's way in: the
    policies' `is_super_admin() or gym_id = any(...)` is an OR the planner cannot use, and it
    would read a million-row table through to filter it. Composed (values inlined) rather
    than `(%s is null or ...)`, which would hide the index from the planner too."""
    if scope is None:
        return sql.SQL("")
    return sql.SQL(" and {} = any({}::uuid[])").format(sql.SQL(column), sql.Literal(list(scope)))


def encode_cursor(values: Sequence[Any]) -> str:
    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return {"t": value.isoformat()}
        if isinstance(value, (UUID, Decimal)):
            return str(value)
        return value

    raw = json.dumps([plain(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CursorError("this page link is damaged: start again from the first page") from exc
    if not isinstance(values, list) or len(values) != size:
        raise CursorError("this page link belongs to another list: start from the first page")

    def typed(value: Any) -> Any:
        if isinstance(value, dict) and set(value) == {"t"}:
            try:
                return datetime.fromisoformat(str(value["t"]))
            except ValueError as exc:
                raise CursorError("this page link is damaged") from exc
        if value is not None and not isinstance(value, (str, int, float)):
            raise CursorError("this page link is damaged")
        return value

    return [typed(v) for v in values]


async def fetch_all(conn: Conn, query: str | sql.Composable, params: Any = None) -> list[DictRow]:
    cur = await conn.execute(query if isinstance(query, str) else sql.Composed([query]), params)
    return await cur.fetchall()


async def fetch_one(conn: Conn, query: str | sql.Composable, params: Any = None) -> DictRow | None:
    cur = await conn.execute(query if isinstance(query, str) else sql.Composed([query]), params)
    return await cur.fetchone()
