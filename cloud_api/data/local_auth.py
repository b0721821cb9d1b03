"""The SQL of the local issuer (embedded default) beyond the password check
(cloud_api.data.users): refresh sessions, second factors, invitations. Each function runs in
the caller's transaction; the private tables are reached only through the definer functions
of migrations 20261122000500 and 20261129003000.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from cloud_api.db.database import Conn


@dataclass(frozen=True)
class SessionOwner:
    session_id: UUID
    user_id: UUID
    email: str
    aal: str
    rotated: bool  # False: a just-replaced token honoured once more (keep the newer cookie)


@dataclass(frozen=True)
class Factor:
    factor_id: UUID
    secret_sealed: str
    verified: bool
    last_step: int


async def start_session(conn: Conn, user_id: UUID, refresh_hash: str, ttl: timedelta) -> UUID:
    cur = await conn.execute(
        "select private.local_session_start(%s, %s, %s) as id", (user_id, refresh_hash, ttl)
    )
    row = await cur.fetchone()
    assert row is not None
    session_id: UUID = row["id"]
    return session_id


async def rotate_session(
    conn: Conn, old_hash: str, new_hash: str, ttl: timedelta
) -> SessionOwner | None:
    cur = await conn.execute(
        "select * from private.local_session_refresh(%s, %s, %s)", (old_hash, new_hash, ttl)
    )
    row = await cur.fetchone()
    if row is None:
        return None
    return SessionOwner(row["session_id"], row["user_id"], row["email"], row["aal"], row["rotated"])


async def end_session(conn: Conn, refresh_hash: str) -> None:
    await conn.execute("select private.local_session_end(%s)", (refresh_hash,))


async def my_factor(conn: Conn) -> Factor | None:
    cur = await conn.execute("select * from private.local_mfa_factor()")
    row = await cur.fetchone()
    if row is None:
        return None
    return Factor(row["factor_id"], row["secret_sealed"], row["verified"], row["last_step"])


async def enroll_factor(conn: Conn, secret_sealed: str) -> UUID:
    cur = await conn.execute("select private.local_mfa_enroll(%s) as id", (secret_sealed,))
    row = await cur.fetchone()
    assert row is not None
    factor_id: UUID = row["id"]
    return factor_id


async def accept_factor_step(conn: Conn, factor_id: UUID, step: int, session_id: UUID) -> bool:
    cur = await conn.execute(
        "select private.local_mfa_accept(%s, %s, %s) as ok", (factor_id, step, session_id)
    )
    row = await cur.fetchone()
    return bool(row and row["ok"])


async def invite(conn: Conn, email: str, token_hash: str, ttl: timedelta) -> UUID:
    cur = await conn.execute(
        "select private.local_invite(%s, %s, %s) as id", (email, token_hash, ttl)
    )
    row = await cur.fetchone()
    assert row is not None
    user_id: UUID = row["id"]
    return user_id


async def invitation_email(conn: Conn, token_hash: str) -> tuple[str, datetime] | None:
    cur = await conn.execute("select * from private.local_invitation_lookup(%s)", (token_hash,))
    row = await cur.fetchone()
    return None if row is None else (row["email"], row["expires_at"])


async def accept_invitation(conn: Conn, token_hash: str, password_hash: str) -> str | None:
    """The account's email once its password is set; None when the link cannot be used."""
    cur = await conn.execute(
        "select * from private.local_invitation_accept(%s, %s)", (token_hash, password_hash)
    )
    row = await cur.fetchone()
    return None if row is None else str(row["email"])


# -- the operator's side (an admin connection): the demo's admin, a lost authenticator --------


async def factor_of(conn: Conn, email: str) -> str | None:
    """The sealed TOTP secret of the account with this email (operator connection)."""
    cur = await conn.execute(
        "select f.secret_sealed from private.local_mfa_factors f join auth.users u "
        "on u.id = f.user_id where lower(u.email) = lower(%s)",
        (email,),
    )
    row = await cur.fetchone()
    return None if row is None else str(row["secret_sealed"])


async def give_factor(conn: Conn, email: str, secret_sealed: str) -> bool:
    """A verified factor for the account (operator connection); False: no such account."""
    cur = await conn.execute(
        "insert into private.local_mfa_factors (user_id, secret_sealed, verified_at) "
        "select u.id, %s, now() from auth.users u where lower(u.email) = lower(%s) "
        "on conflict (user_id) do update set secret_sealed = excluded.secret_sealed, "
        "verified_at = now(), last_step = 0 returning user_id",
        (secret_sealed, email),
    )
    row = await cur.fetchone()
    if row is None:
        return False
    await conn.execute(
        "update public.users set mfa_enabled = true where id = %s", (row["user_id"],)
    )
    return True


async def drop_factor(conn: Conn, email: str) -> bool:
    """Forget the account's factor: they enrol a new one at their next sign-in."""
    cur = await conn.execute(
        "delete from private.local_mfa_factors f using auth.users u "
        "where u.id = f.user_id and lower(u.email) = lower(%s) returning f.user_id",
        (email,),
    )
    return await cur.fetchone() is not None
