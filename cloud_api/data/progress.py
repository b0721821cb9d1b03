"""A member's progress as the calling kiosk reads it, and changes to their fitness goals.

Reading uses the kiosk's own rights (it reads its gym's members and profiles). Writing goes
through `private.kiosk_update_fitness_goals`, which only touches a member of the calling
kiosk's gym and writes the audit log: kiosks have no update right on profiles.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from cloud_api.db.database import Conn

Row = dict[str, Any]

PROFILE_SQL = """
select m.first_name, m.member_since, m.membership_type, m.membership_expires_on,
    (m.last_visit at time zone g.timezone) as last_visit_local,
    ((now() at time zone g.timezone)::date - (m.last_visit at time zone g.timezone)::date)
        as days_since_last_visit,
    f.fitness_level, coalesce(f.primary_goals, '{}') as primary_goals, f.current_weight_kg,
    f.target_weight_kg, f.workout_frequency_per_week, f.height_cm
from gym_members m
join gyms g on g.id = m.gym_id
left join member_fitness_profile f on f.member_id = m.id
where m.id = %s
"""

BOOKINGS_SQL = """
select b.id, b.status, c.name, (c.starts_at at time zone g.timezone) as local_start
from class_bookings b
join classes c on c.id = b.class_id
join gyms g on g.id = c.gym_id
where b.member_id = %s and b.status in ('booked', 'waitlisted') and c.starts_at > now()
  and c.status = 'scheduled'
order by c.starts_at
limit 5
"""

ATTENDED_SQL = """
select count(*) as n
from class_bookings b join classes c on c.id = b.class_id
where b.member_id = %s and b.status = 'booked' and c.status = 'scheduled'
  and c.starts_at <= now() and c.starts_at > now() - interval '30 days'
"""


async def profile(conn: Conn, member_id: UUID) -> Row | None:
    """Membership, last visit (local time) and fitness profile."""
    return await (await conn.execute(PROFILE_SQL, (member_id,))).fetchone()


async def upcoming_bookings(conn: Conn, member_id: UUID) -> list[Row]:
    """The member's next five live bookings of scheduled classes."""
    return await (await conn.execute(BOOKINGS_SQL, (member_id,))).fetchall()


async def classes_attended_last_30_days(conn: Conn, member_id: UUID) -> int:
    row = await (await conn.execute(ATTENDED_SQL, (member_id,))).fetchone()
    return int(row["n"]) if row else 0


async def primary_goals(conn: Conn, member_id: UUID) -> list[str]:
    cur = await conn.execute(
        "select primary_goals from member_fitness_profile where member_id = %s", (member_id,)
    )
    row = await cur.fetchone()
    return list(row["primary_goals"]) if row else []


async def update_goals(
    conn: Conn,
    member_id: UUID,
    *,
    goals: list[str] | None,
    target_weight_kg: Decimal | float | None,
    workouts_per_week: int | None,
) -> Row:
    """Sets what is not None; the profile as it is afterwards."""
    cur = await conn.execute(
        "select * from private.kiosk_update_fitness_goals("
        "%s, %s::text[], %s::numeric, %s::integer)",
        (member_id, goals, target_weight_kg, workouts_per_week),
    )
    after = await cur.fetchone()
    assert after is not None
    return after
