"""Voice sessions: the calling kiosk, its member, session starts and limits, memory — always
run in the kiosk's own transaction.

Row-level security decides: another gym's member, session, class or document reads as
absent. What kiosks cannot read at all (conversation summaries, other kiosks' sessions'
cost) comes from the narrow definer functions of migration 20261122000600.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from cloud_api.data import audit
from cloud_api.db.database import Conn
from cloud_api.tools.context import Gym
from cloud_api.tools.hours import OpeningHours
from cloud_api.voice.instructions import MemberFacts, Memory


@dataclass(frozen=True)
class Place:
    """The calling kiosk, its configuration and its gym."""

    kiosk_id: UUID
    language: str
    voice: str
    model: str
    gym: Gym
    seconds_to_midnight: int


@dataclass(frozen=True)
class MemberRow:
    id: UUID
    first_name: str
    is_active: bool
    expired: bool
    expires_on: date | None
    language: str | None
    facts: MemberFacts


KIOSK_SQL = """
select k.id, k.voice_model, k.language, k.openai_model, g.id as gym_id, g.name, g.city,
    g.timezone, g.opening_hours, (now() at time zone g.timezone) as local_now,
    extract(epoch from (
        (date_trunc('day', now() at time zone g.timezone) + interval '1 day')
            at time zone g.timezone - now())) as seconds_to_midnight
from kiosks k join gyms g on g.id = k.gym_id
where k.id = (select private.kiosk_id())
"""

MEMBER_SQL = """
select m.id, m.first_name, m.is_active, m.member_since, m.membership_expires_on,
    coalesce(m.membership_expires_on < (now() at time zone g.timezone)::date, false) as expired,
    p.language, p.communication_style, f.fitness_level, f.primary_goals, f.current_weight_kg,
    f.target_weight_kg, f.workout_frequency_per_week, f.injuries
from gym_members m
join gyms g on g.id = m.gym_id
left join member_preferences p on p.member_id = m.id
left join member_fitness_profile f on f.member_id = m.id
where m.id = %s and m.gym_id = (select private.kiosk_gym_id())
"""


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


async def load_place(conn: Conn) -> Place | None:
    row = await (await conn.execute(KIOSK_SQL)).fetchone()
    if row is None:
        return None
    gym = Gym(
        id=row["gym_id"],
        name=row["name"],
        city=row["city"],
        timezone=row["timezone"],
        opening_hours=OpeningHours.parse(row["opening_hours"]),
        local_now=row["local_now"],
    )
    return Place(
        kiosk_id=row["id"],
        language=row["language"],
        voice=row["voice_model"],
        model=row["openai_model"],
        gym=gym,
        seconds_to_midnight=max(1, math.ceil(row["seconds_to_midnight"])),
    )


async def load_member(conn: Conn, member_id: UUID, kiosk_language: str) -> MemberRow | None:
    row = await (await conn.execute(MEMBER_SQL, (member_id,))).fetchone()
    if row is None:
        return None
    facts = MemberFacts(
        first_name=row["first_name"],
        language=row["language"] or kiosk_language,
        communication_style=row["communication_style"] or "friendly",
        fitness_level=row["fitness_level"],
        goals=tuple(row["primary_goals"] or ()),
        current_weight_kg=_float(row["current_weight_kg"]),
        target_weight_kg=_float(row["target_weight_kg"]),
        workouts_per_week=row["workout_frequency_per_week"],
        injuries=row["injuries"],
        member_since=row["member_since"],
    )
    return MemberRow(
        id=row["id"],
        first_name=row["first_name"],
        is_active=row["is_active"],
        expired=row["expired"],
        expires_on=row["membership_expires_on"],
        language=row["language"],
        facts=facts,
    )


async def lock_member(conn: Conn, member_id: UUID) -> None:
    """Serialise one member's session starts, so the hourly limit holds under races."""
    await conn.execute(
        "select pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"jarvis.voice:{member_id}",)
    )


async def find_start(conn: Conn, session_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select kiosk_id, member_id, status, ended_at is not null as ended, requested_at "
        "from voice_session_starts where id = %s",
        (session_id,),
    )
    return await cur.fetchone()


async def recent_starts(conn: Conn, member_id: UUID, session_id: UUID) -> tuple[int, int]:
    """(sessions the member started in the last hour on any of the gym's kiosks, seconds
    until the oldest of them leaves the window)."""
    cur = await conn.execute(
        "select count(*) as n, "
        "  extract(epoch from (min(requested_at) + interval '1 hour' - now())) as wait "
        "from voice_session_starts "
        "where member_id = %s and requested_at > now() - interval '1 hour' "
        "  and status <> 'failed' and id <> %s",
        (member_id, session_id),
    )
    row = await cur.fetchone()
    assert row is not None
    return row["n"], max(1, math.ceil(row["wait"] or 1))


async def gym_spend_today(conn: Conn) -> Decimal:
    row = await (await conn.execute("select private.kiosk_gym_spend_today() as spent")).fetchone()
    assert row is not None
    return Decimal(row["spent"])


async def member_memory(conn: Conn, member_id: UUID, count: int, timezone: str) -> list[Memory]:
    if count <= 0:
        return []
    cur = await conn.execute(
        "select (m.started_at at time zone %s) as local_start, m.summary_text, m.key_topics "
        "from private.member_memory(%s, %s) m order by m.started_at desc",
        (timezone, member_id, count),
    )
    return [
        Memory(when=r["local_start"], summary=r["summary_text"], topics=tuple(r["key_topics"]))
        for r in await cur.fetchall()
    ]


async def record_start(
    conn: Conn, *, session_id: UUID, member_id: UUID, model: str, voice: str, language: str
) -> bool:
    """Files the start (or re-arms an earlier attempt of this kiosk with the same id); False
    when the id is taken elsewhere (another gym's session: invisible, but unique)."""
    cur = await conn.execute(
        "insert into voice_session_starts (id, gym_id, kiosk_id, member_id, model, voice, "
        "language) values (%s, (select private.kiosk_gym_id()), (select private.kiosk_id()), "
        "%s, %s, %s, %s) on conflict (id) do nothing returning id",
        (session_id, member_id, model, voice, language),
    )
    if await cur.fetchone() is not None:
        return True
    cur = await conn.execute(
        "update voice_session_starts set status = 'minting', error = null, model = %s, "
        "voice = %s, language = %s "
        "where id = %s and kiosk_id = (select private.kiosk_id()) and member_id = %s "
        "returning id",
        (model, voice, language, session_id, member_id),
    )
    return await cur.fetchone() is not None


async def mark_started(
    conn: Conn, session_id: UUID, expires_at: datetime, details: dict[str, Any]
) -> None:
    await conn.execute(
        "update voice_session_starts set status = 'started', secret_expires_at = %s "
        "where id = %s and kiosk_id = (select private.kiosk_id())",
        (expires_at, session_id),
    )
    await audit.record(
        conn, audit.CALLING_KIOSK, "voice.session_started", "voice_session", session_id, details
    )


async def mark_failed(conn: Conn, session_id: UUID, error: str) -> None:
    await conn.execute(
        "update voice_session_starts set status = 'failed', error = %s "
        "where id = %s and kiosk_id = (select private.kiosk_id())",
        (error, session_id),
    )


async def started_longer_ago_than(conn: Conn, requested_at: datetime, minutes: int) -> bool:
    """Whether a start is older than `minutes` by the database's clock (the one that
    stamped it)."""
    cur = await conn.execute(
        "select %s < now() - make_interval(mins => %s) as stale", (requested_at, minutes)
    )
    row = await cur.fetchone()
    return bool(row and row["stale"])


async def end_session(conn: Conn, session_id: UUID, reason: str) -> None:
    """Marks the calling kiosk's session ended: later tool calls for it are refused."""
    await conn.execute(
        "update voice_session_starts set ended_at = now(), end_reason = %s "
        "where id = %s and kiosk_id = (select private.kiosk_id())",
        (reason, session_id),
    )
