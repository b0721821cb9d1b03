"""Dashboard accounts: who is on the team, invitations, deactivation.

RLS decides who may give which role where (owners: managers and staff of their gyms;
managers: their gym's staff; super admins: anyone). A refused insert rolls the whole
invitation back, the sign-in account included.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from cloud_api.data import audit
from cloud_api.data.dashboard.common import fetch_all, fetch_one
from cloud_api.db.database import Conn

ROLES = ("super_admin", "franchise_owner", "gym_manager", "gym_staff")


class PersonRefused(ValueError):
    pass


async def list_people(conn: Conn, limit: int = 500) -> list[dict[str, Any]]:
    rows = await fetch_all(
        conn,
        "select u.id, u.email, u.full_name, u.role::text as role, u.is_active, u.mfa_enabled, "
        "u.created_at, g.name as gym_name, g.slug as gym_slug, f.name as franchise_name "
        "from users u left join gyms g on g.id = u.gym_id "
        "left join franchises f on f.id = u.franchise_id "
        "order by u.is_active desc, u.role, u.email limit %s",
        (limit,),
    )
    return [dict(r) for r in rows]


async def scope_ids(
    conn: Conn, role: str, gym_slug: str | None, franchise_slug: str | None
) -> tuple[UUID | None, UUID | None]:
    """(gym_id, franchise_id) for a role; refuses a scope that does not fit the role or that
    the caller cannot see."""
    if role not in ROLES:
        raise PersonRefused(f"{role!r} is not a role")
    if role in ("gym_manager", "gym_staff"):
        if not gym_slug:
            raise PersonRefused("managers and staff belong to a gym: choose one")
        gym = await fetch_one(conn, "select id from gyms where slug = %s", (gym_slug,))
        if gym is None:
            raise PersonRefused(f"no gym {gym_slug!r} that you can see")
        return gym["id"], None
    if role == "franchise_owner":
        if not franchise_slug:
            raise PersonRefused("an owner owns a franchise: choose one")
        franchise = await fetch_one(
            conn, "select id from franchises where slug = %s", (franchise_slug,)
        )
        if franchise is None:
            raise PersonRefused(f"no franchise {franchise_slug!r} that you can see")
        return None, franchise["id"]
    return None, None


async def add_person(
    conn: Conn,
    *,
    user_id: UUID,
    email: str,
    full_name: str | None,
    role: str,
    gym_id: UUID | None,
    franchise_id: UUID | None,
    actor_id: UUID,
) -> None:
    """The dashboard account for a sign-in account that already exists (just invited)."""
    await conn.execute(
        "insert into users (id, email, full_name, role, gym_id, franchise_id) "
        "values (%s, %s, %s, %s, %s, %s)",
        (user_id, email.lower(), full_name or None, role, gym_id, franchise_id),
    )
    await audit.record(
        conn,
        audit.Actor("user", actor_id),
        "user.invited",
        "user",
        user_id,
        {"email": email, "role": role},
        gym_id=gym_id,
        franchise_id=franchise_id,
    )


async def set_active(conn: Conn, *, user_id: UUID, active: bool, actor_id: UUID) -> bool:
    """Deactivate (signs them out of everything RLS guards at once) or reactivate."""
    if user_id == actor_id and not active:
        raise PersonRefused("you cannot deactivate your own account")
    row = await fetch_one(
        conn,
        "update users set is_active = %s where id = %s returning gym_id, franchise_id, email",
        (active, user_id),
    )
    if row is None:
        return False
    await audit.record(
        conn,
        audit.Actor("user", actor_id),
        "user.reactivated" if active else "user.deactivated",
        "user",
        user_id,
        {"email": row["email"]},
        gym_id=row["gym_id"],
        franchise_id=row["franchise_id"],
    )
    return True


def invitable_roles(my_role: str) -> tuple[str, ...]:
    """The roles the invitation form offers (RLS still decides what is accepted)."""
    return {
        "super_admin": ROLES,
        "franchise_owner": ("gym_manager", "gym_staff"),
        "gym_manager": ("gym_staff",),
    }.get(my_role, ())


async def list_franchise_refs(conn: Conn) -> list[dict[str, Any]]:
    rows = await fetch_all(conn, "select slug, name from franchises order by name")
    return [dict(r) for r in rows]
