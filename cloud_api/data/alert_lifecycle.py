"""Manager alerts under the caller's claims: RLS decides which alerts a user sees and may
change; the database enforces the lifecycle (resolved and dismissed are final) and writes
every change to the audit log with the user who made it (migration 20261129002300).

For the dashboards: `list_alerts`, `get_alert`, `transition_alert`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

import psycopg

from cloud_api.db.database import Conn

AlertStatus = Literal["pending", "in_progress", "resolved", "dismissed"]

COLUMNS = (
    "id, gym_id, member_id, kiosk_id, alert_type, priority, title, description, "
    "recommended_actions, context, status, assigned_to, resolved_at, resolution_notes, "
    "created_at, updated_at"
)


class AlertNotFound(LookupError):
    """No such alert, or not one the caller may see."""


class AlertClosed(ValueError):
    """The alert is resolved or dismissed: its status cannot change any more."""


class AlertForbidden(PermissionError):
    """The caller may see the alert but not make this change (staff reassigning it)."""


@dataclass(frozen=True)
class AlertChange:
    status: AlertStatus | None = None
    assigned_to: UUID | None = None
    unassign: bool = False
    notes: str | None = None


async def list_alerts(
    conn: Conn,
    *,
    statuses: tuple[AlertStatus, ...] = ("pending", "in_progress"),
    gym_id: UUID | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"select {COLUMNS} from manager_alerts where status = any(%s) "
        "and (%s::uuid is null or gym_id = %s) "
        "order by array_position(array['urgent','high','medium','low'], priority), "
        "created_at desc limit %s",
        (list(statuses), gym_id, gym_id, limit),
    )
    return list(await cur.fetchall())


async def get_alert(conn: Conn, alert_id: UUID) -> dict[str, Any]:
    cur = await conn.execute(f"select {COLUMNS} from manager_alerts where id = %s", (alert_id,))
    row = await cur.fetchone()
    if row is None:
        raise AlertNotFound(str(alert_id))
    return dict(row)


async def transition_alert(conn: Conn, alert_id: UUID, change: AlertChange) -> dict[str, Any]:
    """Change an alert's status, assignee and notes in one statement."""
    try:
        async with conn.transaction():  # a savepoint: a refusal leaves the caller's work
            cur = await conn.execute(
                f"update manager_alerts set "
                "status = coalesce(%(status)s, status), "
                "assigned_to = case when %(unassign)s then null "
                "                   else coalesce(%(assignee)s, assigned_to) end, "
                "resolution_notes = coalesce(%(notes)s, resolution_notes) "
                f"where id = %(id)s returning {COLUMNS}",
                {
                    "status": change.status,
                    "unassign": change.unassign,
                    "assignee": change.assigned_to,
                    "notes": change.notes,
                    "id": alert_id,
                },
            )
            row = await cur.fetchone()
    except psycopg.errors.InvalidParameterValue as exc:
        raise AlertClosed(str(alert_id)) from exc
    except psycopg.errors.InsufficientPrivilege as exc:
        raise AlertForbidden(str(alert_id)) from exc
    if row is None:
        raise AlertNotFound(str(alert_id))
    return dict(row)
