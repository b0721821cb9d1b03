"""Tools that reach the gym's staff: an equipment issue, an escalation to a person.

Both create a manager alert for the kiosk's own gym (`cloud_api.data.alerts`); the same
alert raised again within ten minutes is not duplicated. Titles are in the kiosk's language,
the staff's.
"""

from __future__ import annotations

from typing import Any

from cloud_api.data import alerts as data
from cloud_api.tools.arguments import EscalateToStaffArgs, ReportEquipmentIssueArgs
from cloud_api.tools.context import ToolContext, ToolOutcome
from cloud_api.tools.hours import text_language

TITLES = {
    "equipment_issue": {"fr": "Équipement signalé : {equipment}", "en": "Equipment: {equipment}"},
    "staff_escalation": {
        "fr": "{first_name} demande à parler à quelqu'un",
        "en": "{first_name} asks to speak to someone",
    },
}
REPORTED_BY = {
    "fr": "Signalé par {first_name} via JARVIS.",
    "en": "Reported by {first_name} via JARVIS.",
}
WHERE = {"fr": "Emplacement : {location}.", "en": "Location: {location}."}


async def _raise(
    ctx: ToolContext,
    alert_type: str,
    priority: str,
    title: str,
    description: str,
    context: dict[str, Any],
) -> ToolOutcome:
    raised = await data.raise_alert(
        ctx.conn,
        alert_type=alert_type,
        priority=priority,
        title=title[:200],
        description=description,
        member_id=ctx.caller.member_id,
        context={"source": "jarvis", "session_id": str(ctx.caller.session_id), **context},
    )
    return ToolOutcome(
        {
            "alert_id": str(raised.alert_id),
            "already_reported": not raised.created,
            "staff_notified": True,
            "priority": priority,
        }
    )


async def report_equipment_issue(ctx: ToolContext, args: ReportEquipmentIssueArgs) -> ToolOutcome:
    lang = text_language(ctx.caller.kiosk_language)
    first_name = ctx.caller.first_name
    parts = [args.problem.strip()]
    if args.location:
        parts.append(WHERE[lang].format(location=args.location.strip()))
    parts.append(REPORTED_BY[lang].format(first_name=first_name))
    return await _raise(
        ctx,
        "equipment_issue",
        args.severity,
        TITLES["equipment_issue"][lang].format(equipment=args.equipment.strip()),
        " ".join(parts),
        {"equipment": args.equipment, "location": args.location, "problem": args.problem},
    )


async def escalate_to_staff(ctx: ToolContext, args: EscalateToStaffArgs) -> ToolOutcome:
    lang = text_language(ctx.caller.kiosk_language)
    first_name = ctx.caller.first_name
    return await _raise(
        ctx,
        "staff_escalation",
        args.urgency,
        TITLES["staff_escalation"][lang].format(first_name=first_name),
        f"{args.reason.strip()} {REPORTED_BY[lang].format(first_name=first_name)}",
        {"reason": args.reason},
    )
