"""The platform's operators: franchises and gyms (create, suspend), costs per customer and
day, the audit log. RLS lets only super admins (with a second factor) write these; an owner
reading them sees their own franchise."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import sql

from cloud_api.data import audit
from cloud_api.data.dashboard.common import (
    CursorError,
    decode_cursor,
    encode_cursor,
    fetch_all,
    fetch_one,
)
from cloud_api.db.database import Conn

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
AUDIT_PAGE = 100


class AdminRefused(ValueError):
    """Input the database would refuse, said in words (a taken slug, a bad status)."""


async def _audit(
    conn: Conn,
    actor_id: UUID,
    action: str,
    target_type: str,
    target_id: UUID,
    details: dict[str, Any],
    *,
    gym_id: UUID | None = None,
    franchise_id: UUID | None = None,
) -> None:
    await audit.record(
        conn,
        audit.Actor("user", actor_id),
        action,
        target_type,
        target_id,
        details,
        gym_id=gym_id,
        franchise_id=franchise_id,
    )


async def list_franchises(conn: Conn) -> list[dict[str, Any]]:
    rows = await fetch_all(
        conn,
        "select f.*, (select count(*) from gyms g where g.franchise_id = f.id) as gyms "
        "from franchises f order by f.name",
    )
    return [dict(r) for r in rows]


async def list_gyms(conn: Conn, limit: int = 500) -> list[dict[str, Any]]:
    rows = await fetch_all(
        conn,
        "select g.id, g.slug, g.name, g.city, g.status, g.timezone, g.created_at, "
        "f.name as franchise_name, f.slug as franchise_slug, "
        "(select count(*) from kiosks k where k.gym_id = g.id) as kiosks "
        "from gyms g left join franchises f on f.id = g.franchise_id "
        "order by f.name nulls last, g.name limit %s",
        (limit,),
    )
    return [dict(r) for r in rows]


async def create_franchise(
    conn: Conn, *, slug: str, name: str, city: str | None, plan: str, actor_id: UUID
) -> UUID:
    if not SLUG.match(slug):
        raise AdminRefused("a slug is 2–63 lowercase letters, digits or dashes")
    row = await fetch_one(
        conn,
        "insert into franchises (slug, name, city, subscription_plan) values (%s, %s, %s, %s) "
        "on conflict (slug) do nothing returning id",
        (slug, name, city or None, plan),
    )
    if row is None:
        raise AdminRefused(f"the slug {slug!r} is already taken")
    await _audit(
        conn,
        actor_id,
        "franchise.created",
        "franchise",
        row["id"],
        {"slug": slug},
        franchise_id=row["id"],
    )
    franchise_id: UUID = row["id"]
    return franchise_id


async def create_gym(
    conn: Conn,
    *,
    slug: str,
    name: str,
    city: str | None,
    franchise_slug: str | None,
    timezone: str,
    actor_id: UUID,
) -> UUID:
    if not SLUG.match(slug):
        raise AdminRefused("a slug is 2–63 lowercase letters, digits or dashes")
    franchise_id = None
    if franchise_slug:
        franchise = await fetch_one(
            conn, "select id from franchises where slug = %s", (franchise_slug,)
        )
        if franchise is None:
            raise AdminRefused(f"no franchise {franchise_slug!r}")
        franchise_id = franchise["id"]
    zone = await fetch_one(conn, "select 1 from pg_timezone_names where name = %s", (timezone,))
    if zone is None:
        raise AdminRefused(f"{timezone!r} is not a timezone (e.g. Europe/Paris)")
    row = await fetch_one(
        conn,
        "insert into gyms (slug, name, city, franchise_id, timezone) values (%s, %s, %s, %s, %s) "
        "on conflict (slug) do nothing returning id",
        (slug, name, city or None, franchise_id, timezone),
    )
    if row is None:
        raise AdminRefused(f"the slug {slug!r} is already taken")
    await _audit(
        conn,
        actor_id,
        "gym.created",
        "gym",
        row["id"],
        {"slug": slug},
        gym_id=row["id"],
        franchise_id=franchise_id,
    )
    gym_id: UUID = row["id"]
    return gym_id


FRANCHISE_STATUSES = ("active", "suspended", "trial")
GYM_STATUSES = ("active", "maintenance", "suspended")


async def set_status(
    conn: Conn, *, kind: str, target_id: UUID, status: str, actor_id: UUID
) -> bool:
    """Suspend or reactivate a franchise or a gym; False when it is not visible/writable."""
    if kind == "franchise" and status in FRANCHISE_STATUSES:
        row = await fetch_one(
            conn,
            "update franchises set status = %s where id = %s returning id",
            (status, target_id),
        )
        ids: dict[str, UUID | None] = {"franchise_id": target_id}
    elif kind == "gym" and status in GYM_STATUSES:
        row = await fetch_one(
            conn,
            "update gyms set status = %s where id = %s returning id, franchise_id",
            (status, target_id),
        )
        ids = {"gym_id": target_id, "franchise_id": row["franchise_id"] if row else None}
    else:
        raise AdminRefused(f"{status!r} is not a status of a {kind}")
    if row is None:
        return False
    await _audit(
        conn, actor_id, f"{kind}.status_changed", kind, target_id, {"status": status}, **ids
    )
    return True


COSTS_SQL = """
select coalesce(f.name, g.name) as customer, coalesce(f.slug, g.slug) as customer_slug,
       (s.started_at at time zone 'UTC')::date as day,
       count(*) as sessions, sum(s.cost_usd) as cost_usd, sum(s.total_tokens) as tokens
from realtime_sessions s
join gyms g on g.id = s.gym_id
left join franchises f on f.id = g.franchise_id
where s.started_at >= current_date - %(days)s::int
group by 1, 2, 3
order by 3 desc, 5 desc
"""


async def costs(conn: Conn, days: int = 14) -> list[dict[str, Any]]:
    """Realtime spend per customer (a franchise, or an independent gym) and UTC day."""
    return [dict(r) for r in await fetch_all(conn, COSTS_SQL, {"days": days - 1})]


@dataclass(frozen=True)
class AuditPage:
    rows: list[dict[str, Any]]
    next_cursor: str | None


async def audit_log(
    conn: Conn, *, action: str = "", gym_id: UUID | None = None, cursor: str | None = None
) -> AuditPage:
    clauses: list[sql.Composable] = []
    if action:
        clauses.append(sql.SQL("l.action like {}").format(sql.Literal(action.strip() + "%")))
    if gym_id:
        clauses.append(sql.SQL("l.gym_id = {}").format(sql.Literal(gym_id)))
    if cursor:
        at, last_id = decode_cursor(cursor, 2)
        if not isinstance(at, datetime) or not isinstance(last_id, int):
            raise CursorError("this page link is damaged: start again from the first page")
        clauses.append(
            sql.SQL("(l.occurred_at, l.id) < ({}, {})").format(
                sql.Literal(at), sql.Literal(last_id)
            )
        )
    where = sql.SQL("").join(sql.SQL(" and ") + c for c in clauses)
    query = sql.SQL(
        "select l.*, u.email as actor_email, g.name as gym_name from audit_log l "
        "left join users u on u.id = l.actor_id left join gyms g on g.id = l.gym_id "
        "where true {where} order by l.occurred_at desc, l.id desc limit {limit}"
    ).format(where=where, limit=sql.Literal(AUDIT_PAGE + 1))
    rows = [dict(r) for r in await fetch_all(conn, query)]
    more = len(rows) > AUDIT_PAGE
    rows = rows[:AUDIT_PAGE]
    return AuditPage(
        rows, encode_cursor([rows[-1]["occurred_at"], rows[-1]["id"]]) if more else None
    )
