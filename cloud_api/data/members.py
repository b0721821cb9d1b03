"""Members as a kiosk sees them: the card behind a badge, and what changed since a position
(for the kiosk's offline cache). Only the calling kiosk's gym: RLS and the gym filter agree.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from cloud_api.db.database import Conn

Row = dict[str, Any]

MEMBER_CARD_SQL = """
select m.id as member_id, m.badge_id, m.first_name, m.membership_expires_on, m.updated_at,
    p.language, p.communication_style, p.voice_preference,
    case when not m.is_active then 'suspended'
         when m.membership_expires_on < (now() at time zone g.timezone)::date then 'expired'
         else 'active' end as status
from gym_members m
join gyms g on g.id = m.gym_id
left join member_preferences p on p.member_id = m.id
where m.gym_id = (select private.kiosk_gym_id())
"""


async def card_by_badge(conn: Conn, badge_id: str) -> Row | None:
    """The member holding this canonical badge id in the kiosk's gym, with a `status`
    (active, expired, suspended) in the gym's own calendar."""
    cur = await conn.execute(MEMBER_CARD_SQL + " and m.badge_id = %s", (badge_id,))
    return await cur.fetchone()


async def settled_horizon(conn: Conn, safety: timedelta) -> datetime:
    """now() - safety: rows changed before it belong to transactions that have committed."""
    row = await (await conn.execute("select now() - %s as h", (safety,))).fetchone()
    assert row is not None
    horizon: datetime = row["h"]
    return horizon


async def cards_changed_after(
    conn: Conn, updated_at: datetime | str, member_id: UUID | str, limit: int
) -> list[Row]:
    """Member cards in (updated_at, member_id) order after that position."""
    cur = await conn.execute(
        MEMBER_CARD_SQL + " and (m.updated_at, m.id) > (%s::timestamptz, %s::uuid) "
        "order by m.updated_at, m.id limit %s",
        (updated_at, member_id, limit),
    )
    return await cur.fetchall()


async def badges_deleted_after(
    conn: Conn, deleted_at: datetime | str, deletion_id: int, limit: int
) -> list[Row]:
    """Badges whose member was deleted, in (deleted_at, id) order after that position;
    a badge handed to a member again is live, not deleted."""
    cur = await conn.execute(
        "select d.id, d.badge_id, d.deleted_at from gym_member_deletions d "
        "where d.gym_id = (select private.kiosk_gym_id()) "
        "and (d.deleted_at, d.id) > (%s::timestamptz, %s::bigint) "
        "and not exists (select 1 from gym_members m "
        "                where m.gym_id = d.gym_id and m.badge_id = d.badge_id) "
        "order by d.deleted_at, d.id limit %s",
        (deleted_at, deletion_id, limit),
    )
    return await cur.fetchall()


async def demo_badges(conn: Conn, gym_slug: str, language: str) -> list[str]:
    """The demo's two conversations: a member in good standing (the lowest badge id), then
    the one most at risk of leaving whose membership still runs (the unhappy one)."""
    cur = await conn.execute(
        "select m.badge_id from gym_members m join gyms g on g.id = m.gym_id "
        "join member_preferences p on p.member_id = m.id "
        "where g.slug = %s and m.is_active and p.language = %s "
        "and m.membership_expires_on > current_date + 60 order by m.badge_id limit 1",
        (gym_slug, language),
    )
    badges = [row["badge_id"] for row in await cur.fetchall()]
    cur = await conn.execute(
        "select m.badge_id from gym_members m join gyms g on g.id = m.gym_id "
        "join member_preferences p on p.member_id = m.id "
        "join member_analytics a on a.member_id = m.id "
        "where g.slug = %s and m.is_active and p.language = %s "
        "and m.membership_expires_on > current_date and not (m.badge_id = any(%s)) "
        "order by a.churn_risk_score desc nulls last, m.badge_id limit 1",
        (gym_slug, language, badges),
    )
    unhappy = await cur.fetchone()
    return badges + ([unhappy["badge_id"]] if unhappy else [])
