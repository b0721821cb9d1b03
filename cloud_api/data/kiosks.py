"""Kiosks: management shared by the API (as the signed-in manager, under RLS) and the CLI.

Creating a kiosk or regenerating its code returns the six-character provisioning code: the
only time it exists in clear. Every step is written to the audit log.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg

from cloud_api.data import audit
from cloud_api.data.audit import Actor
from cloud_api.db.database import Conn
from provisioning.code import code_hash, new_code


@dataclass(frozen=True)
class IssuedCode:
    kiosk_id: UUID
    kiosk_slug: str
    kiosk_name: str
    gym_slug: str
    code: str
    expires_at: datetime


class KioskNotFound(LookupError):
    pass


class NotAllowed(PermissionError):
    """Row-level security refused the change (the caller sees the gym but may not do this)."""


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:40] or "kiosk"


async def _audit(
    conn: Conn,
    actor: Actor,
    action: str,
    gym_id: UUID | None,
    target_id: UUID,
    details: dict[str, Any],
) -> None:
    await audit.record(conn, actor, action, "kiosk", target_id, details, gym_id=gym_id)


async def create_kiosk(
    conn: Conn,
    *,
    gym_slug: str,
    name: str,
    location: str | None,
    pepper: bytes,
    ttl: timedelta,
    actor: Actor,
) -> IssuedCode:
    """A new kiosk awaiting provisioning, and its code. RLS decides whether `conn`'s caller
    may create kiosks in that gym (an unknown or foreign gym reads as not found)."""
    cur = await conn.execute("select id, slug from gyms where slug = %s", (gym_slug,))
    gym = await cur.fetchone()
    if gym is None:
        raise KioskNotFound(f"no gym with slug {gym_slug!r} that you can manage")
    base = f"{gym['slug']}-{slugify(name)}"[:60]
    code = new_code()
    for attempt in range(1, 100):
        slug = base if attempt == 1 else f"{base[:56]}-{attempt}"
        try:
            cur = await conn.execute(
                "insert into kiosks (gym_id, slug, name, location_in_gym, provisioning_code_hash, "
                " provisioning_code_created_at, provisioning_code_expires_at) "
                "values (%s, %s, %s, %s, %s, now(), now() + %s) on conflict (slug) do nothing "
                "returning id, slug, name, provisioning_code_expires_at",
                (gym["id"], slug, name, location, code_hash(code, pepper), ttl),
            )
        except psycopg.errors.InsufficientPrivilege as exc:
            raise NotAllowed(f"you cannot add kiosks to {gym_slug}") from exc
        row = await cur.fetchone()
        if row is not None:
            break
    else:
        raise ValueError(f"no free slug for a kiosk named {name!r}")
    await _audit(
        conn,
        actor,
        "kiosk.created",
        gym["id"],
        row["id"],
        {"name": name, "code_expires_at": row["provisioning_code_expires_at"].isoformat()},
    )
    return IssuedCode(
        row["id"], row["slug"], row["name"], gym["slug"], code, row["provisioning_code_expires_at"]
    )


async def regenerate_code(
    conn: Conn, *, kiosk_id: UUID, pepper: bytes, ttl: timedelta, actor: Actor
) -> IssuedCode:
    """A fresh code for the kiosk (the old one stops working). On a kiosk already in service
    the current credential keeps working until the new code is claimed, and the kiosk is told
    to expect re-provisioning."""
    code = new_code()
    cur = await conn.execute(
        "update kiosks k set provisioning_code_hash = %s, provisioning_code_created_at = now(), "
        " provisioning_code_expires_at = now() + %s, provisioning_code_used_at = null "
        "from gyms g where k.id = %s and g.id = k.gym_id "
        "returning k.id, k.slug, k.name, k.gym_id, g.slug as gym_slug, k.provisioned_at, "
        " k.provisioning_code_expires_at",
        (code_hash(code, pepper), ttl, kiosk_id),
    )
    row = await cur.fetchone()
    if row is None:
        raise KioskNotFound("no such kiosk that you can manage")
    if row["provisioned_at"] is not None:
        await conn.execute(
            "insert into kiosk_commands (kiosk_id, gym_id, kind, reason, created_by) "
            "values (%s, %s, 'reprovision', 'a new provisioning code was issued', %s)",
            (row["id"], row["gym_id"], actor.user_id),
        )
    await _audit(
        conn,
        actor,
        "kiosk.code_regenerated",
        row["gym_id"],
        row["id"],
        {"code_expires_at": row["provisioning_code_expires_at"].isoformat()},
    )
    return IssuedCode(
        row["id"],
        row["slug"],
        row["name"],
        row["gym_slug"],
        code,
        row["provisioning_code_expires_at"],
    )


async def revoke_credentials(conn: Conn, *, kiosk_id: UUID, actor: Actor) -> int:
    """Revoke every credential of the kiosk now; its next request is refused."""
    # Touching the kiosk row first: only those who may manage the kiosk can (RLS).
    cur = await conn.execute(
        "update kiosks set status = 'offline' where id = %s returning gym_id", (kiosk_id,)
    )
    kiosk = await cur.fetchone()
    if kiosk is None:
        raise KioskNotFound("no such kiosk that you can manage")
    cur = await conn.execute(
        "update kiosk_credentials set revoked_at = now() "
        "where kiosk_id = %s and revoked_at is null returning id",
        (kiosk_id,),
    )
    rows = await cur.fetchall()
    await _audit(
        conn, actor, "kiosk.credentials_revoked", kiosk["gym_id"], kiosk_id, {"revoked": len(rows)}
    )
    return len(rows)


async def request_rotation(conn: Conn, *, kiosk_id: UUID, actor: Actor) -> None:
    """Ask the kiosk (on its next heartbeat) to rotate its credential."""
    cur = await conn.execute(
        "insert into kiosk_commands (kiosk_id, gym_id, kind, reason, created_by) "
        "select id, gym_id, 'rotate_credential', 'requested from the dashboard', %s "
        "from kiosks where id = %s returning gym_id",
        (actor.user_id, kiosk_id),
    )
    row = await cur.fetchone()
    if row is None:
        raise KioskNotFound("no such kiosk that you can manage")
    await _audit(conn, actor, "kiosk.rotation_requested", row["gym_id"], kiosk_id, {})


async def kiosk_named(conn: Conn, *, gym_slug: str, name: str) -> UUID | None:
    """The id of the gym's kiosk with this name, if there is one."""
    cur = await conn.execute(
        "select k.id from kiosks k join gyms g on g.id = k.gym_id "
        "where g.slug = %s and k.name = %s order by k.created_at limit 1",
        (gym_slug, name),
    )
    row = await cur.fetchone()
    return row["id"] if row else None
