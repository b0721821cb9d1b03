"""The audit log: who did what to which thing, written in the same transaction as the deed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

from cloud_api.db.database import Conn


@dataclass(frozen=True)
class Actor:
    """Who does it: a signed-in user, the operator's CLI (`system`), or the calling kiosk
    (as row-level security knows it: its id and gym come from the request's claims)."""

    kind: Literal["user", "system", "kiosk"]
    user_id: UUID | None = None


SYSTEM = Actor("system")
CALLING_KIOSK = Actor("kiosk")

_BY_KIOSK = (
    "insert into audit_log (actor_type, actor_id, gym_id, action, target_type, target_id, "
    "details) values ('kiosk', (select private.kiosk_id()), (select private.kiosk_gym_id()), "
    "%s, %s, %s, %s)"
)
_BY_PERSON = (
    "insert into audit_log (actor_type, actor_id, gym_id, franchise_id, action, target_type, "
    "target_id, details) values (%s, %s, %s, %s, %s, %s, %s, %s)"
)


async def record(
    conn: Conn,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: Any,
    details: dict[str, Any],
    *,
    gym_id: UUID | None = None,
    franchise_id: UUID | None = None,
) -> None:
    """One audit entry. For the calling kiosk, the gym is its own whatever `gym_id` says."""
    text = json.dumps(details, default=str)
    if actor.kind == "kiosk":
        await conn.execute(_BY_KIOSK, (action, target_type, str(target_id), text))
        return
    await conn.execute(
        _BY_PERSON,
        (
            actor.kind,
            actor.user_id,
            gym_id,
            franchise_id,
            action,
            target_type,
            str(target_id),
            text,
        ),
    )
