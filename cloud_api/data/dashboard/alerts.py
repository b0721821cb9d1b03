"""Manager alerts as the dashboard lists them, and what staff do with one (assign, start,
resolve, dismiss).

The lifecycle itself is the pipeline's (cloud_api.data.alert_lifecycle and migration
20261129002300): pending → in_progress → resolved | dismissed, resolved and dismissed are
final, every change is audited by a trigger with the user who made it, and staff cannot
reassign. `TRANSITIONS` only says which buttons a page offers; the database decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from psycopg import sql

from cloud_api.data import alert_lifecycle as lifecycle
from cloud_api.data.dashboard.common import (
    CursorError,
    Scope,
    decode_cursor,
    encode_cursor,
    fetch_all,
    fetch_one,
    gym_filter,
)
from cloud_api.db.database import Conn

PAGE_SIZE = 50
STATUSES = ("pending", "in_progress", "resolved", "dismissed")
OPEN = ("pending", "in_progress")
PRIORITIES = ("urgent", "high", "medium", "low")


class AlertAction(StrEnum):
    ASSIGN = "assign"
    START = "start"
    RESOLVE = "resolve"
    DISMISS = "dismiss"


# action → (statuses it is offered for, status after)
TRANSITIONS: dict[AlertAction, tuple[tuple[str, ...], lifecycle.AlertStatus | None]] = {
    AlertAction.ASSIGN: (OPEN, None),
    AlertAction.START: (("pending",), "in_progress"),
    AlertAction.RESOLVE: (OPEN, "resolved"),
    AlertAction.DISMISS: (OPEN, "dismissed"),
}

AlertNotFound = lifecycle.AlertNotFound
AlertForbidden = lifecycle.AlertForbidden


class TransitionRefused(ValueError):
    """The alert is not in a state this action applies to (resolved and dismissed are
    final), or the assignee is not on the gym's team."""


@dataclass(frozen=True)
class AlertFilters:
    status: str = "open"  # open | all | one of STATUSES
    priority: str = ""
    alert_type: str = ""


@dataclass(frozen=True)
class AlertPage:
    rows: list[dict[str, Any]]
    next_cursor: str | None


ALERT_COLUMNS = """
a.id, a.gym_id, a.member_id, a.kiosk_id, a.alert_type, a.priority, a.title, a.description,
a.recommended_actions, a.context, a.status, a.assigned_to, a.resolved_at, a.resolution_notes,
a.created_at, a.updated_at, g.slug as gym_slug, g.name as gym_name,
m.first_name as member_first_name, m.last_name as member_last_name, k.name as kiosk_name,
u.full_name as assignee_name, u.email as assignee_email
"""
ALERT_FROM = """
from manager_alerts a
join gyms g on g.id = a.gym_id
left join gym_members m on m.id = a.member_id
left join kiosks k on k.id = a.kiosk_id
left join users u on u.id = a.assigned_to
"""
# Urgent first among open alerts, then newest.
PRIORITY_RANK = (
    "case a.priority when 'urgent' then 0 when 'high' then 1 when 'medium' then 2 else 3 end"
)


async def list_alerts(
    conn: Conn, scope: Scope, filters: AlertFilters, cursor: str | None = None
) -> AlertPage:
    clauses: list[sql.Composable] = []
    if filters.status == "open":
        clauses.append(sql.SQL("a.status in ('pending', 'in_progress')"))
    elif filters.status in STATUSES:
        clauses.append(sql.SQL("a.status = {}").format(sql.Literal(filters.status)))
    if filters.priority in PRIORITIES:
        clauses.append(sql.SQL("a.priority = {}").format(sql.Literal(filters.priority)))
    if filters.alert_type:
        clauses.append(sql.SQL("a.alert_type = {}").format(sql.Literal(filters.alert_type)))
    if cursor:
        rank, created, last_id = decode_cursor(cursor, 3)
        if not isinstance(created, datetime) or not isinstance(rank, int):
            raise CursorError("this page link is damaged: start again from the first page")
        # (rank asc, created_at desc, id asc) continues after the cursor's row.
        clauses.append(
            sql.SQL(
                "({rank} > {r} or ({rank} = {r} and (a.created_at < {c} "
                "or (a.created_at = {c} and a.id > {i}))))"
            ).format(
                rank=sql.SQL(PRIORITY_RANK),
                r=sql.Literal(rank),
                c=sql.Literal(created),
                i=sql.Literal(UUID(str(last_id))),
            )
        )
    where = sql.SQL("").join(sql.SQL(" and ") + c for c in clauses)
    query = sql.SQL(
        "select {columns}, {rank} as rank {frm} where true {gym}{where} "
        "order by {rank}, a.created_at desc, a.id limit {limit}"
    ).format(
        columns=sql.SQL(ALERT_COLUMNS),
        rank=sql.SQL(PRIORITY_RANK),
        frm=sql.SQL(ALERT_FROM),
        gym=gym_filter("a.gym_id", scope),
        where=where,
        limit=sql.Literal(PAGE_SIZE + 1),
    )
    rows = [dict(r) for r in await fetch_all(conn, query)]
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    next_cursor = (
        encode_cursor([rows[-1]["rank"], rows[-1]["created_at"], rows[-1]["id"]]) if more else None
    )
    return AlertPage(rows, next_cursor)


async def get_alert(conn: Conn, alert_id: UUID) -> dict[str, Any] | None:
    row = await fetch_one(
        conn,
        sql.SQL("select {} {} where a.id = %s").format(sql.SQL(ALERT_COLUMNS), sql.SQL(ALERT_FROM)),
        (alert_id,),
    )
    return dict(row) if row else None


async def assignable_people(conn: Conn, gym_id: UUID) -> list[dict[str, Any]]:
    """Who an alert of this gym can be given to: its team, and its franchise's owner."""
    rows = await fetch_all(
        conn,
        "select u.id, coalesce(u.full_name, u.email) as name, u.role::text as role from users u "
        "where u.is_active and (u.gym_id = %s or u.franchise_id = "
        "(select franchise_id from gyms where id = %s)) order by 2",
        (gym_id, gym_id),
    )
    return [dict(r) for r in rows]


async def act_on_alert(
    conn: Conn,
    alert_id: UUID,
    action: AlertAction,
    *,
    notes: str | None = None,
    assignee: UUID | None = None,
) -> dict[str, Any]:
    """Apply `action` through the pipeline's lifecycle; the alert as the list shows it."""
    current = await get_alert(conn, alert_id)
    if current is None:
        raise AlertNotFound(str(alert_id))
    if action is AlertAction.ASSIGN:
        people = {p["id"] for p in await assignable_people(conn, current["gym_id"])}
        if assignee is not None and assignee not in people:
            raise TransitionRefused("that person is not on this gym's team")
        change = lifecycle.AlertChange(assigned_to=assignee, unassign=assignee is None)
    else:
        after = TRANSITIONS[action][1]
        change = lifecycle.AlertChange(status=after, notes=notes or None)
    try:
        await lifecycle.transition_alert(conn, alert_id, change)
    except lifecycle.AlertClosed as exc:
        raise TransitionRefused(
            f"this alert is {current['status']}: it cannot be {past(action)} any more"
        ) from exc
    alert = await get_alert(conn, alert_id)
    assert alert is not None
    return alert


def past(action: AlertAction) -> str:
    return {
        AlertAction.ASSIGN: "assigned",
        AlertAction.START: "started",
        AlertAction.RESOLVE: "resolved",
        AlertAction.DISMISS: "dismissed",
    }[action]
