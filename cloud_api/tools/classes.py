"""Class tools: the schedule, booking (capacity, then a bounded waitlist) and cancelling.

Booking and cancelling lock the class first (`data.classes.lock_class`), so two members
racing for the last spot cannot both get it. Cancelling a booked spot promotes the
longest-waiting member of the waitlist.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from cloud_api.data import classes as data
from cloud_api.tools.arguments import BookClassArgs, CancelBookingArgs, ClassScheduleArgs, Day
from cloud_api.tools.context import ToolContext, ToolFailure, ToolOutcome, audit, local_time
from cloud_api.tools.hours import DAY_NAMES
from cloud_api.voice.spoken import say

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_LISTED = 30


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


def _when(row: dict[str, Any]) -> str:
    return str(row["local_start"].strftime("%H:%M"))


async def class_schedule(ctx: ToolContext, args: ClassScheduleArgs) -> ToolOutcome:
    gym = ctx.caller.gym
    first = resolve_day(args.day, gym.local_now.date())
    last = first + timedelta(days=args.days)
    rows = await data.schedule(
        ctx.conn,
        ctx.caller.member_id,
        start=datetime.combine(first, datetime.min.time()),
        end=datetime.combine(last, datetime.min.time()),
        name=args.name,
        limit=MAX_LISTED + 1,
    )
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
    await data.lock_class(ctx.conn, args.class_id)
    row = await data.one_class(ctx.conn, ctx.caller.member_id, args.class_id)
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
    booking_id = await data.add_booking(
        ctx.conn, args.class_id, ctx.caller.member_id, status, ctx.caller.session_id
    )
    if booking_id is None:  # booked meanwhile by another request
        raise ToolFailure(say(language, "already_booked", **named))
    await audit(
        ctx,
        "class.booked",
        "class_booking",
        booking_id,
        {"class_id": str(args.class_id), "status": status},
    )
    after = await data.one_class(ctx.conn, ctx.caller.member_id, args.class_id)
    assert after is not None
    return ToolOutcome(
        {
            "booking_id": str(booking_id),
            "status": status,
            "waitlist_position": position,
            "class": class_output(after, language),
        }
    )


async def cancel_booking(ctx: ToolContext, args: CancelBookingArgs) -> ToolOutcome:
    language = ctx.caller.language
    member = ctx.caller.member_id
    if args.booking_id is not None:
        found = await data.booking(ctx.conn, args.booking_id)
    else:
        assert args.class_id is not None  # the arguments model requires one of the two
        found = await data.latest_booking(ctx.conn, args.class_id, member)
    if found is None:
        raise ToolFailure(say(language, "booking_not_found"))
    await data.lock_class(ctx.conn, found["class_id"])
    booking = await data.booking(ctx.conn, found["id"])  # again, now that the class is locked
    assert booking is not None
    if booking["member_id"] != member:
        raise ToolFailure(say(language, "not_your_booking"))
    if booking["status"] == "cancelled":
        raise ToolFailure(say(language, "already_cancelled"))
    klass = await data.one_class(ctx.conn, member, booking["class_id"])
    assert klass is not None  # the booking's class is in the same gym (composite key)
    if klass["started"]:
        raise ToolFailure(say(language, "class_started", name=klass["name"], time=_when(klass)))
    await data.cancel_booking(ctx.conn, booking["id"])
    promoted = None
    if booking["status"] == "booked":
        promoted = await data.promote_from_waitlist(ctx.conn, booking["class_id"])
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
    after = await data.one_class(ctx.conn, member, booking["class_id"])
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
