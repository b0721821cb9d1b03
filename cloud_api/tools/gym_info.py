"""Tools about the gym and the conversation itself: opening hours, ending the session."""

from __future__ import annotations

from cloud_api.data import voice
from cloud_api.tools.arguments import EndSessionArgs, OpeningHoursArgs
from cloud_api.tools.classes import resolve_day
from cloud_api.tools.context import ToolContext, ToolOutcome, local_time


async def opening_hours(ctx: ToolContext, args: OpeningHoursArgs) -> ToolOutcome:
    gym = ctx.caller.gym
    hours = gym.opening_hours
    now = gym.local_now
    language = ctx.caller.language
    change = hours.next_change(now)
    output = {
        "gym": gym.name,
        "local_time": local_time(now),
        "today": hours.as_output(now.weekday(), language)["day_name"],
        "open_now": hours.is_open(now),
        "next_change": local_time(change) if change else None,
    }
    if args.day == "week":
        output["week"] = [hours.as_output(day, language) for day in range(7)]
    else:
        asked = resolve_day(args.day, now.date())
        output["asked"] = {"date": asked.isoformat(), **hours.as_output(asked.weekday(), language)}
    return ToolOutcome(output)


async def end_session(ctx: ToolContext, args: EndSessionArgs) -> ToolOutcome:
    """Marks the session ended (later tool calls for it are refused) and tells the kiosk to
    close the conversation once the goodbye has been played."""
    await voice.end_session(ctx.conn, ctx.caller.session_id, args.reason)
    return ToolOutcome({"ended": True, "reason": args.reason}, end_session=True)
