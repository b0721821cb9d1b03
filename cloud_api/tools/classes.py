"""Class tools: the schedule, booking (capacity, then a bounded waitlist) and cancelling.

Bookings of one class are serialised with a transaction-level advisory lock on the class id,
so two members racing for the last spot cannot both get it; the partial unique index
`class_bookings_live_key` makes a double booking impossible even without the lock.
Cancelling a booked spot promotes the longest-waiting member of the waitlist.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg

from cloud_api.tools.arguments import BookClassArgs, CancelBookingArgs, ClassScheduleArgs, Day
from cloud_api.tools.context import ToolContext, ToolFailure, ToolOutcome, audit, local_time
from cloud_api.tools.hours import DAY_NAMES
from cloud_api.voice.spoken import say

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_LISTED = 30

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


def resolve_day(day: Day, today: date) -> date:
    """The date a spoken day means: `monday` is the next Monday, today included."""
    if day == "today":
        return today
    if day == "tomorrow":
        return today + timedelta(days=1)
    return today + timedelta(days=(WEEKDAYS.index(day) - today.weekday()) % 7)


def class_output(row: dict[str, Any], language: str) -> dict[str, Any]:
    local_start: datetime = row["local_start"]
    spots_left = max(row["capacity"] - row["booked"], 0)
    waitlist_left = max(row["waitlist_capacity"] - row["waitlisted"], 0)
    mine = (
        {"booking_id": str(row["my_booking_id"]), "status": row["my_status"]}
        if row["my_booking_id"]
        else None
    )
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "coach": row["coach"],
        "room": row["room"],
        "starts_at": local_time(local_start),
        "day_name": DAY_NAMES["fr" if language == "fr" else "en"][local_start.weekday()],
        "duration_min": row["duration_min"],
        "status": row["status"],
        "spots_left": spots_left,
        "waitlist_spots_left": waitlist_left,
        "full": spots_left == 0,
        "your_booking": mine,
    }


async def _class(ctx: ToolContext, class_id: UUID) -> dict[str, Any] | None:
    cur = await ctx.conn.execute(
        CLASS_SQL + " and c.id = %(class)s", {"member": ctx.caller.member_id, "class": class_id}
    )
    return await cur.fetchone()


async def _lock_class(ctx: ToolContext, class_id: UUID) -> None:
    await ctx.conn.execute(
        "select pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"jarvis.class:{class_id}",)
    )


def _when(row: dict[str, Any]) -> str:
    return str(row["local_start"].strftime("%H:%M"))


async def class_schedule(ctx: ToolContext, args: ClassScheduleArgs) -> ToolOutcome:
    gym = ctx.caller.gym
    first = resolve_day(args.day, gym.local_now.date())
    last = first + timedelta(days=args.days)
    cur = await ctx.conn.execute(
        CLASS_SQL
        + " and c.starts_at >= greatest(now(), %(from)s::timestamp at time zone g.timezone)"
        " and c.starts_at < (%(to)s::timestamp at time zone g.timezone)"
        " and (%(name)s::text is null or strpos(lower(c.name), lower(%(name)s::text)) > 0)"
        " order by c.starts_at, c.name limit %(limit)s",
        {
            "member": ctx.caller.member_id,
            "from": datetime.combine(first, datetime.min.time()),
            "to": datetime.combine(last, datetime.min.time()),
            "name": args.name,
            "limit": MAX_LISTED + 1,
        },
    )
    rows = await cur.fetchall()
    language = ctx.caller.language
    return ToolOutcome(
        {
            "from": first.isoformat(),
            "to_exclusive": last.isoformat(),
            "local_time": local_time(gym.local_now),
            "classes": [class_output(r, language) for r in rows[:MAX_LISTED]],
            "more": len(rows) > MAX_LISTED,
        }
    )


async def book_class(ctx: ToolContext, args: BookClassArgs) -> ToolOutcome:
    language = ctx.caller.language
    await _lock_class(ctx, args.class_id)
    row = await _class(ctx, args.class_id)
    if row is None:
        raise ToolFailure(say(language, "class_not_found"))
    named = {"name": row["name"], "time": _when(row)}
    if row["status"] == "cancelled":
        raise ToolFailure(say(language, "class_cancelled", **named))
    if row["started"]:
        raise ToolFailure(say(language, "class_started", **named))
    if row["my_status"] == "booked":
        raise ToolFailure(say(language, "already_booked", **named))
    if row["my_status"] == "waitlisted":
        raise ToolFailure(say(language, "already_waitlisted", **named))
    position = None
    if row["booked"] < row["capacity"]:
        status = "booked"
    elif row["waitlisted"] < row["waitlist_capacity"]:
        status, position = "waitlisted", row["waitlisted"] + 1
    else:
        raise ToolFailure(say(language, "class_full", **named))
    try:
        cur = await ctx.conn.execute(
            "insert into class_bookings (class_id, gym_id, member_id, status, kiosk_id, "
            "session_id) values (%s, (select private.kiosk_gym_id()), %s, %s, "
            "(select private.kiosk_id()), %s) returning id",
            (args.class_id, ctx.caller.member_id, status, ctx.caller.session_id),
        )
    except psycopg.errors.UniqueViolation as exc:  # booked meanwhile by another request
        raise ToolFailure(say(language, "already_booked", **named)) from exc
    booking = await cur.fetchone()
    assert booking is not None
    await audit(
        ctx,
        "class.booked",
        "class_booking",
        booking["id"],
        {"class_id": str(args.class_id), "status": status},
    )
    after = await _class(ctx, args.class_id)
    assert after is not None
    return ToolOutcome(
        {
            "booking_id": str(booking["id"]),
            "status": status,
            "waitlist_position": position,
            "class": class_output(after, language),
        }
    )


async def cancel_booking(ctx: ToolContext, args: CancelBookingArgs) -> ToolOutcome:
    language = ctx.caller.language
    member = ctx.caller.member_id
    if args.booking_id is not None:
        query = "select id, class_id, member_id, status from class_bookings where id = %s"
        params: tuple[Any, ...] = (args.booking_id,)
    else:
        query = (
            "select id, class_id, member_id, status from class_bookings "
            "where class_id = %s and member_id = %s order by (status <> 'cancelled') desc, "
            "created_at desc limit 1"
        )
        params = (args.class_id, member)
    found = await (await ctx.conn.execute(query, params)).fetchone()
    if found is None:
        raise ToolFailure(say(language, "booking_not_found"))
    await _lock_class(ctx, found["class_id"])
    booking = await (
        await ctx.conn.execute(
            "select id, class_id, member_id, status from class_bookings where id = %s",
            (found["id"],),
        )
    ).fetchone()
    assert booking is not None
    if booking["member_id"] != member:
        raise ToolFailure(say(language, "not_your_booking"))
    if booking["status"] == "cancelled":
        raise ToolFailure(say(language, "already_cancelled"))
    klass = await _class(ctx, booking["class_id"])
    assert klass is not None  # the booking's class is in the same gym (composite key)
    if klass["started"]:
        raise ToolFailure(say(language, "class_started", name=klass["name"], time=_when(klass)))
    await ctx.conn.execute(
        "update class_bookings set status = 'cancelled', cancelled_at = now() where id = %s",
        (booking["id"],),
    )
    promoted = None
    if booking["status"] == "booked":
        cur = await ctx.conn.execute(
            "update class_bookings set status = 'booked' where id = ("
            "  select id from class_bookings where class_id = %s and status = 'waitlisted'"
            "  order by created_at, id limit 1) returning id",
            (booking["class_id"],),
        )
        row = await cur.fetchone()
        promoted = row["id"] if row else None
    await audit(
        ctx,
        "class.booking_cancelled",
        "class_booking",
        booking["id"],
        {
            "class_id": str(booking["class_id"]),
            "was": booking["status"],
            "promoted_booking_id": promoted and str(promoted),
        },
    )
    after = await _class(ctx, booking["class_id"])
    assert after is not None
    return ToolOutcome(
        {
            "booking_id": str(booking["id"]),
            "status": "cancelled",
            "was": booking["status"],
            "waitlist_member_promoted": promoted is not None,
            "class": class_output(after, language),
        }
    )
