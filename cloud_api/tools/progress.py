"""Tools about the member: their progress and goals, and changing a goal.

Reading uses the kiosk's own rights (it reads its gym's members and profiles). Writing goes
through `private.kiosk_update_fitness_goals`, which only touches a member of the calling
kiosk's gym and writes the audit log: kiosks have no update right on profiles.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cloud_api.tools.arguments import MemberProgressArgs, UpdateFitnessGoalArgs
from cloud_api.tools.context import ToolContext, ToolFailure, ToolOutcome, local_time
from cloud_api.tools.hours import text_language
from cloud_api.voice.spoken import say

GOAL_LABELS = {
    "fr": {
        "weight_loss": "perte de poids",
        "muscle_gain": "prise de muscle",
        "endurance": "endurance",
        "flexibility": "souplesse",
        "general_health": "santé générale",
        "rehabilitation": "rééducation",
    },
    "en": {
        "weight_loss": "weight loss",
        "muscle_gain": "muscle gain",
        "endurance": "endurance",
        "flexibility": "flexibility",
        "general_health": "general health",
        "rehabilitation": "rehabilitation",
    },
}
LEVEL_LABELS = {
    "fr": {"beginner": "débutant", "intermediate": "intermédiaire", "advanced": "confirmé"},
    "en": {"beginner": "beginner", "intermediate": "intermediate", "advanced": "advanced"},
}


def goal_label(goal: str, language: str) -> str:
    return GOAL_LABELS[text_language(language)].get(goal, goal.replace("_", " "))


def _number(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


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


async def member_progress(ctx: ToolContext, args: MemberProgressArgs) -> ToolOutcome:
    member = ctx.caller.member_id
    language = ctx.caller.language
    profile = await (await ctx.conn.execute(PROFILE_SQL, (member,))).fetchone()
    assert profile is not None  # the caller's member was found in this transaction
    upcoming = await (await ctx.conn.execute(BOOKINGS_SQL, (member,))).fetchall()
    attended = await (await ctx.conn.execute(ATTENDED_SQL, (member,))).fetchone()
    current = _number(profile["current_weight_kg"])
    target = _number(profile["target_weight_kg"])
    level = profile["fitness_level"]
    output: dict[str, Any] = {
        "first_name": profile["first_name"],
        "fitness_level": level and LEVEL_LABELS[language].get(level, level),
        "goals": list(profile["primary_goals"]),
        "goal_labels": [goal_label(g, language) for g in profile["primary_goals"]],
        "current_weight_kg": current,
        "target_weight_kg": target,
        "kg_to_target": round(current - target, 1) if current and target else None,
        "workouts_per_week_target": profile["workout_frequency_per_week"],
        "member_since": profile["member_since"].isoformat(),
        "membership_type": profile["membership_type"],
        "membership_expires_on": profile["membership_expires_on"]
        and profile["membership_expires_on"].isoformat(),
        "last_visit": profile["last_visit_local"] and local_time(profile["last_visit_local"]),
        "days_since_last_visit": profile["days_since_last_visit"],
        "classes_attended_last_30_days": attended["n"] if attended else 0,
        "upcoming_bookings": [
            {
                "booking_id": str(b["id"]),
                "class": b["name"],
                "starts_at": local_time(b["local_start"]),
                "status": b["status"],
            }
            for b in upcoming
        ],
    }
    return ToolOutcome(output)


async def update_fitness_goal(ctx: ToolContext, args: UpdateFitnessGoalArgs) -> ToolOutcome:
    language = ctx.caller.language
    if not args.changes_anything:
        raise ToolFailure(say(language, "no_goal_change"))
    member = ctx.caller.member_id
    goals: list[str] | None = None
    before: list[str] = []
    if args.add_goals or args.remove_goals:
        cur = await ctx.conn.execute(
            "select primary_goals from member_fitness_profile where member_id = %s", (member,)
        )
        row = await cur.fetchone()
        before = list(row["primary_goals"]) if row else []
        goals = [g for g in before if g not in args.remove_goals]
        goals += [g for g in dict.fromkeys(args.add_goals) if g not in goals]
    cur = await ctx.conn.execute(
        "select * from private.kiosk_update_fitness_goals("
        "%s, %s::text[], %s::numeric, %s::integer)",
        (member, goals, args.target_weight_kg, args.workout_frequency_per_week),
    )
    after = await cur.fetchone()
    assert after is not None
    return ToolOutcome(
        {
            "goals": list(after["primary_goals"]),
            "goal_labels": [goal_label(g, language) for g in after["primary_goals"]],
            "goals_before": before if goals is not None else None,
            "target_weight_kg": _number(after["target_weight_kg"]),
            "current_weight_kg": _number(after["current_weight_kg"]),
            "workouts_per_week_target": after["workout_frequency_per_week"],
        }
    )
