"""JARVIS's tools: name, description, argument model and what runs.

The session configuration advertises `realtime_tools()`; the tool endpoint looks tools up in
`TOOLS` and validates arguments with the same models, so both always agree.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cloud_api.tools import alerts, classes, gym_info, knowledge, progress
from cloud_api.tools.arguments import (
    BookClassArgs,
    CancelBookingArgs,
    ClassScheduleArgs,
    EndSessionArgs,
    EscalateToStaffArgs,
    MemberProgressArgs,
    OpeningHoursArgs,
    ReportEquipmentIssueArgs,
    SearchKnowledgeArgs,
    ToolArguments,
    UpdateFitnessGoalArgs,
    parameters_schema,
)
from cloud_api.tools.context import ToolContext, ToolOutcome

Handler = Callable[[ToolContext, Any], Awaitable[ToolOutcome]]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    arguments: type[ToolArguments]
    run: Handler

    def realtime_definition(self) -> dict[str, Any]:
        """The GA Realtime function tool, as listed in `session.tools`."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": parameters_schema(self.arguments),
        }


_TOOLS = (
    Tool(
        "get_opening_hours",
        "The gym's opening hours for a day or the whole week, and whether it is open now.",
        OpeningHoursArgs,
        gym_info.opening_hours,
    ),
    Tool(
        "get_class_schedule",
        "Group classes of the gym from a day on, with spots left and the member's own "
        "bookings. Use it before booking or cancelling, to get class ids.",
        ClassScheduleArgs,
        classes.class_schedule,
    ),
    Tool(
        "book_class",
        "Book the member on a class (or on its waiting list when it is full). Confirm the "
        "class and time with the member first.",
        BookClassArgs,
        classes.book_class,
    ),
    Tool(
        "cancel_booking",
        "Cancel one of the member's own bookings (or waiting-list places). Confirm first.",
        CancelBookingArgs,
        classes.cancel_booking,
    ),
    Tool(
        "report_equipment_issue",
        "Tell the staff that a machine or piece of equipment is broken, dirty or unsafe.",
        ReportEquipmentIssueArgs,
        alerts.report_equipment_issue,
    ),
    Tool(
        "get_member_progress",
        "The member's goals, level, weight and target, workouts aimed at, last visit, "
        "classes attended and upcoming bookings.",
        MemberProgressArgs,
        progress.member_progress,
    ),
    Tool(
        "update_fitness_goal",
        "Change the member's goals, target weight or workouts per week, when they ask to.",
        UpdateFitnessGoalArgs,
        progress.update_fitness_goal,
    ),
    Tool(
        "escalate_to_staff",
        "Ask a staff member to come or call back: an injury or malaise, a complaint, a "
        "billing or membership question, or anything you cannot handle.",
        EscalateToStaffArgs,
        alerts.escalate_to_staff,
    ),
    Tool(
        "search_gym_knowledge",
        "Search the gym's own information (rules, services, prices, facilities, equipment, "
        "access) for the member's question. Answer only from what it returns.",
        SearchKnowledgeArgs,
        knowledge.search_knowledge,
    ),
    Tool(
        "end_session",
        "End the conversation, after saying goodbye, when the member is done.",
        EndSessionArgs,
        gym_info.end_session,
    ),
)
TOOLS: dict[str, Tool] = {tool.name: tool for tool in _TOOLS}


def realtime_tools() -> list[dict[str, Any]]:
    """The definitions for `session.tools`: the caller's own copy of the JSON built once (pydantic
    builds each schema in milliseconds, and every voice start sends them: issue 9's greeting)."""
    return json.loads(_realtime_tools_json())  # type: ignore[no-any-return]


@functools.cache
def _realtime_tools_json() -> str:
    return json.dumps([tool.realtime_definition() for tool in _TOOLS])
