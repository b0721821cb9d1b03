"""Per-gym notification settings under the caller's claims: managers and owners add, change
and remove their gyms' recipients (RLS decides); a webhook's secret is generated here, shown
once, and never read back."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

from cloud_api.db.database import Conn

COLUMNS = (
    "id, gym_id, channel, user_id, email, webhook_url, language, alert_types, min_priority, "
    "mode, is_active, created_at, updated_at"
)


@dataclass(frozen=True)
class Recipient:
    gym_id: UUID
    channel: Literal["email", "webhook"]
    user_id: UUID | None = None
    email: str | None = None
    webhook_url: str | None = None
    language: Literal["fr", "en"] = "fr"
    alert_types: tuple[str, ...] = ()
    min_priority: Literal["low", "medium", "high", "urgent"] = "low"
    mode: Literal["immediate", "daily_digest"] = "immediate"


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


async def list_recipients(conn: Conn, gym_id: UUID | None = None) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"select {COLUMNS} from notification_recipients "
        "where (%s::uuid is null or gym_id = %s) order by gym_id, created_at",
        (gym_id, gym_id),
    )
    return list(await cur.fetchall())


async def add_recipient(conn: Conn, recipient: Recipient) -> tuple[dict[str, Any], str | None]:
    """(the new recipient, its webhook secret — shown this once — or None for email)."""
    secret = new_webhook_secret() if recipient.channel == "webhook" else None
    cur = await conn.execute(
        "insert into notification_recipients (gym_id, channel, user_id, email, webhook_url, "
        "webhook_secret, language, alert_types, min_priority, mode) "
        "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        f"returning {COLUMNS}",
        (
            recipient.gym_id,
            recipient.channel,
            recipient.user_id,
            recipient.email,
            recipient.webhook_url,
            secret,
            recipient.language,
            list(recipient.alert_types),
            recipient.min_priority,
            recipient.mode,
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    return dict(row), secret


async def set_recipient_active(conn: Conn, recipient_id: UUID, active: bool) -> bool:
    cur = await conn.execute(
        "update notification_recipients set is_active = %s where id = %s", (active, recipient_id)
    )
    return cur.rowcount == 1


async def remove_recipient(conn: Conn, recipient_id: UUID) -> bool:
    cur = await conn.execute("delete from notification_recipients where id = %s", (recipient_id,))
    return cur.rowcount == 1


async def delivery_log(conn: Conn, gym_id: UUID, limit: int = 100) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "select d.id, d.recipient_id, d.alert_id, d.kind, d.digest_day, d.channel, d.status, "
        "d.attempts, d.last_error, d.created_at, d.sent_at from notification_deliveries d "
        "where d.gym_id = %s order by d.created_at desc limit %s",
        (gym_id, limit),
    )
    return list(await cur.fetchall())
