"""Group classes and their bookings, as the calling kiosk sees them (its own gym only).

Bookings of one class are serialised with a transaction-level advisory lock on the class id,
so two members racing for the last spot cannot both get it; the partial unique index
`class_bookings_live_key` makes a double booking impossible even without the lock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg

from cloud_api.db.database import Conn

Row = dict[str, Any]

CLASS_SQL = """
select c.id, c.name, c.coach, c.room, c.description, c.duration_min, c.capacity,
    c.waitlist_capacity, c.status, c.starts_at, c.starts_at <= now() as started,
    (c.starts_at at time zone g.timezone) as local_start,
    coalesce(n.booked, 0) as booked, coalesce(n.waitlisted, 0) as waitlisted,
    mine.id as my_booking_id, mine.status as my_status
from classes c
join gyms g on g.id = c.gym_id
left join lateral (
    select count(*) filter (where b.status = 'booked') as booked,
           count(*) filter (where b.status = 'waitlisted') as waitlisted
    from class_bookings b where b.class_id = c.id
) n on true
left join lateral (
    select b.id, b.status from class_bookings b
    where b.class_id = c.id and b.member_id = %(member)s and b.status in ('booked', 'waitlisted')
) mine on true
where c.gym_id = (select private.kiosk_gym_id())
"""

BOOKING_COLUMNS = "select id, class_id, member_id, status from class_bookings"


async def one_class(conn: Conn, member_id: UUID, class_id: UUID) -> Row | None:
    """The class with its counts and the member's own booking, or None (not this gym's)."""
    cur = await conn.execute(
        CLASS_SQL + " and c.id = %(class)s", {"member": member_id, "class": class_id}
    )
    return await cur.fetchone()


async def schedule(
    conn: Conn,
    member_id: UUID,
    *,
    start: datetime,
    end: datetime,
    name: str | None,
    limit: int,
) -> list[Row]:
    """Classes from `start` (not before now) to `end`, both local wall times of the gym,
    whose name contains `name` when given, in time order."""
    cur = await conn.execute(
        CLASS_SQL
        + " and c.starts_at >= greatest(now(), %(from)s::timestamp at time zone g.timezone)"
        " and c.starts_at < (%(to)s::timestamp at time zone g.timezone)"
        " and (%(name)s::text is null or strpos(lower(c.name), lower(%(name)s::text)) > 0)"
        " order by c.starts_at, c.name limit %(limit)s",
        {"member": member_id, "from": start, "to": end, "name": name, "limit": limit},
    )
    return await cur.fetchall()


async def lock_class(conn: Conn, class_id: UUID) -> None:
    """Serialise the bookings of one class until the transaction ends."""
    await conn.execute(
        "select pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"jarvis.class:{class_id}",)
    )


async def add_booking(
    conn: Conn, class_id: UUID, member_id: UUID, status: str, session_id: UUID
) -> UUID | None:
    """A new booking by the calling kiosk; None when the member already holds a live one."""
    try:
        cur = await conn.execute(
            "insert into class_bookings (class_id, gym_id, member_id, status, kiosk_id, "
            "session_id) values (%s, (select private.kiosk_gym_id()), %s, %s, "
            "(select private.kiosk_id()), %s) returning id",
            (class_id, member_id, status, session_id),
        )
    except psycopg.errors.UniqueViolation:
        return None
    row = await cur.fetchone()
    assert row is not None
    booking_id: UUID = row["id"]
    return booking_id


async def booking(conn: Conn, booking_id: UUID) -> Row | None:
    return await (await conn.execute(BOOKING_COLUMNS + " where id = %s", (booking_id,))).fetchone()


async def latest_booking(conn: Conn, class_id: UUID, member_id: UUID) -> Row | None:
    """The member's booking of the class, a live one first, else the latest."""
    cur = await conn.execute(
        BOOKING_COLUMNS + " where class_id = %s and member_id = %s "
        "order by (status <> 'cancelled') desc, created_at desc limit 1",
        (class_id, member_id),
    )
    return await cur.fetchone()


async def cancel_booking(conn: Conn, booking_id: UUID) -> None:
    await conn.execute(
        "update class_bookings set status = 'cancelled', cancelled_at = now() where id = %s",
        (booking_id,),
    )


async def promote_from_waitlist(conn: Conn, class_id: UUID) -> UUID | None:
    """Books the longest-waiting member of the class's waitlist; their booking id, if any."""
    cur = await conn.execute(
        "update class_bookings set status = 'booked' where id = ("
        "  select id from class_bookings where class_id = %s and status = 'waitlisted'"
        "  order by created_at, id limit 1) returning id",
        (class_id,),
    )
    row = await cur.fetchone()
    return row["id"] if row else None
