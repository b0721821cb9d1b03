"""Dashboard accounts: local sign-in (the embedded default's own issuer) and creating accounts.

Sign-in runs as `anon` through two narrow definer functions (migration 20261122000500): the
API reads no password hash any other way. Creating an account is the operator's job (the CLI,
over the owner's connection); on Supabase, accounts are invited there.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from cloud_api.data import audit
from cloud_api.db.database import Conn

ROLES = ("super_admin", "franchise_owner", "gym_manager", "gym_staff")


@dataclass(frozen=True)
class LoginAccount:
    user_id: UUID
    password_hash: str | None
    is_active: bool


class EmailTaken(ValueError):
    pass


class ScopeNotFound(LookupError):
    """No gym or franchise with that slug."""


async def login_account(conn: Conn, email: str) -> LoginAccount | None:
    """The account signing in with this email (case-insensitive), if any."""
    cur = await conn.execute("select * from private.local_login_lookup(%s)", (email,))
    row = await cur.fetchone()
    if row is None:
        return None
    return LoginAccount(row["user_id"], row["password_hash"], bool(row["is_active"]))


async def record_login(conn: Conn, user_id: UUID | None, email: str, ok: bool, ip: str) -> None:
    """Audits the attempt; a success also stamps the account's last sign-in."""
    await conn.execute(
        "select private.local_login_record(%s, %s, %s, %s)", (user_id, email, ok, ip)
    )


async def create_user(
    conn: Conn,
    *,
    email: str,
    password_hash: str,
    role: str,
    full_name: str | None = None,
    gym_slug: str | None = None,
    franchise_slug: str | None = None,
    actor: audit.Actor = audit.SYSTEM,
) -> UUID:
    """A confirmed account with its role and scope (a gym for managers and staff, a franchise
    for owners). Raises ScopeNotFound or EmailTaken."""
    gym_id = await _id_by_slug(conn, "gyms", gym_slug) if gym_slug else None
    franchise_id = await _id_by_slug(conn, "franchises", franchise_slug) if franchise_slug else None
    cur = await conn.execute("select 1 from auth.users where lower(email) = lower(%s)", (email,))
    if await cur.fetchone():
        raise EmailTaken(f"an account with email {email} already exists")
    cur = await conn.execute(
        "insert into auth.users (email, encrypted_password, email_confirmed_at) "
        "values (%s, %s, now()) returning id",
        (email, password_hash),
    )
    user = await cur.fetchone()
    assert user is not None
    user_id: UUID = user["id"]
    await conn.execute(
        "insert into users (id, email, full_name, role, franchise_id, gym_id) "
        "values (%s, %s, %s, %s, %s, %s)",
        (user_id, email, full_name, role, franchise_id, gym_id),
    )
    await audit.record(
        conn,
        actor,
        "user.created",
        "user",
        user_id,
        {"email": email, "role": role},
        gym_id=gym_id,
        franchise_id=franchise_id,
    )
    return user_id


async def _id_by_slug(conn: Conn, table: str, slug: str) -> UUID:
    query = {
        "gyms": "select id from gyms where slug = %s",
        "franchises": "select id from franchises where slug = %s",
    }[table]
    row = await (await conn.execute(query, (slug,))).fetchone()
    if row is None:
        raise ScopeNotFound(f"no {table[:-1]} with slug {slug!r}")
    found: UUID = row["id"]
    return found
