"""Tools about the member: their progress and goals, and changing a goal (data in
`cloud_api.data.progress`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cloud_api.data import progress as data
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


async def member_progress(ctx: ToolContext, args: MemberProgressArgs) -> ToolOutcome:
    member = ctx.caller.member_id
    language = ctx.caller.language
    profile = await data.profile(ctx.conn, member)
    assert profile is not None  # the caller's member was found in this transaction
    upcoming = await data.upcoming_bookings(ctx.conn, member)
    attended = await data.classes_attended_last_30_days(ctx.conn, member)
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
        "classes_attended_last_30_days": attended,
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
        before = await data.primary_goals(ctx.conn, member)
        goals = [g for g in before if g not in args.remove_goals]
        goals += [g for g in dict.fromkeys(args.add_goals) if g not in goals]
    after = await data.update_goals(
        ctx.conn,
        member,
        goals=goals,
        target_weight_kg=args.target_weight_kg,
        workouts_per_week=args.workout_frequency_per_week,
    )
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
