"""Who is signed in (their own `users` row) and which gyms they can see."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from cloud_api.data.dashboard.common import SCOPE_LIMIT, Scope, fetch_all, fetch_one
from cloud_api.db.database import Conn

# Past this many visible gyms the page shows a search box instead of a drop-down.
SWITCHER_LIMIT = 200


@dataclass(frozen=True)
class Profile:
    user_id: UUID
    email: str
    full_name: str | None
    role: str
    mfa_enabled: bool
    gym_id: UUID | None
    gym_name: str | None
    franchise_id: UUID | None
    franchise_name: str | None

    @property
    def display_name(self) -> str:
        return self.full_name or self.email


@dataclass(frozen=True)
class GymRef:
    id: UUID
    slug: str
    name: str
    timezone: str


PROFILE_SQL = """
select u.id, u.email, u.full_name, u.role::text as role, u.mfa_enabled, u.gym_id,
       g.name as gym_name, coalesce(u.franchise_id, g.franchise_id) as franchise_id,
       f.name as franchise_name
from users u
left join gyms g on g.id = u.gym_id
left join franchises f on f.id = coalesce(u.franchise_id, g.franchise_id)
where u.id = (select auth.uid()) and u.is_active
"""


async def my_profile(conn: Conn) -> Profile | None:
    """The caller's own account (None when it was deactivated or never existed)."""
    row = await fetch_one(conn, PROFILE_SQL)
    if row is None:
        return None
    return Profile(
        row["id"],
        row["email"],
        row["full_name"],
        row["role"],
        row["mfa_enabled"],
        row["gym_id"],
        row["gym_name"],
        row["franchise_id"],
        row["franchise_name"],
    )


async def visible_gyms(conn: Conn, limit: int = SWITCHER_LIMIT + 1) -> list[GymRef]:
    rows = await fetch_all(
        conn, "select id, slug, name, timezone from gyms order by name, slug limit %s", (limit,)
    )
    return [GymRef(r["id"], r["slug"], r["name"], r["timezone"]) for r in rows]


async def scope_of(conn: Conn) -> Scope:
    """Every gym the caller can see (None past SCOPE_LIMIT: everything, unnarrowed)."""
    rows = await fetch_all(conn, "select id from gyms order by id limit %s", (SCOPE_LIMIT + 1,))
    return None if len(rows) > SCOPE_LIMIT else tuple(r["id"] for r in rows)


async def gym_by_slug(conn: Conn, slug: str) -> GymRef | None:
    row = await fetch_one(
        conn, "select id, slug, name, timezone from gyms where slug = %s", (slug,)
    )
    return None if row is None else GymRef(row["id"], row["slug"], row["name"], row["timezone"])
