"""Alerts: the list (live), one alert, and the actions on it."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import psycopg
from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from cloud_api.data.dashboard import alerts as alert_data
from cloud_api.services import Services
from cloud_api.web.context import ViewerDep, not_found, open_page, parse_id
from cloud_api.web.forms import checked_form, refused, text
from cloud_api.web.render import PageError, Renderer, next_page
from contract.errors import ErrorCode

router = APIRouter(include_in_schema=False)
Short = Annotated[str, Query(max_length=64)]

NOTICES = {
    "assigned": "The alert is assigned.",
    "started": "You are on it: the alert is in progress.",
    "resolved": "The alert is resolved.",
    "dismissed": "The alert is dismissed.",
}


@router.get("/dashboard/alerts")
async def alerts_page(
    request: Request,
    viewer: ViewerDep,
    gym: Short = "",
    status: Short = "open",
    priority: Short = "",
    cursor: Annotated[str, Query(max_length=400)] = "",
) -> Response:
    filters = alert_data.AlertFilters(status=status, priority=priority)
    async with open_page(request, viewer, gym) as page:
        result = await alert_data.list_alerts(page.conn, page.scope, filters, cursor or None)
    next_url = next_page(
        "/dashboard/alerts", result.next_cursor, gym=gym, status=status, priority=priority
    )
    renderer: Renderer = request.app.state.renderer
    return renderer.page(
        request,
        "alerts.html",
        page.context(
            "alerts",
            result=result,
            filters=filters,
            statuses=alert_data.STATUSES,
            priorities=alert_data.PRIORITIES,
            next_url=next_url,
            live_list=status == "open" and not cursor,
        ),
    )


@router.get("/dashboard/alerts/{alert_id}")
async def alert_page(request: Request, viewer: ViewerDep, alert_id: str) -> Response:
    async with open_page(request, viewer) as page:
        alert = await alert_data.get_alert(page.conn, parse_id(alert_id, "alert"))
        if alert is None:
            raise not_found("alert")
        people = await alert_data.assignable_people(page.conn, alert["gym_id"])
    renderer: Renderer = request.app.state.renderer
    notice = NOTICES.get(request.query_params.get("done", ""), "")
    return renderer.page(
        request,
        "alert.html",
        page.context(
            "alerts",
            alert=alert,
            people=people,
            notice=notice,
            transitions={a.value: s for a, (s, _) in alert_data.TRANSITIONS.items()},
        ),
    )


@router.post("/dashboard/alerts/{alert_id}")
async def alert_action(request: Request, viewer: ViewerDep, alert_id: str) -> Response:
    target = parse_id(alert_id, "alert")
    form = await checked_form(request, viewer)
    try:
        action = alert_data.AlertAction(text(form, "action"))
    except ValueError as exc:
        raise refused("Choose assign, start, resolve or dismiss.") from exc
    assignee: UUID | None = None
    if action is alert_data.AlertAction.ASSIGN and text(form, "assignee"):
        try:
            assignee = UUID(text(form, "assignee"))
        except ValueError as exc:
            raise refused("Choose someone from the list.") from exc
    services: Services = request.app.state.services
    try:
        async with services.database.transaction(viewer.claims) as conn:
            await alert_data.act_on_alert(
                conn,
                target,
                action,
                notes=text(form, "notes", max_length=4000) or None,
                assignee=assignee,
            )
    except alert_data.AlertNotFound as exc:
        raise not_found("alert") from exc
    except alert_data.TransitionRefused as exc:
        raise PageError(409, "Not now", str(exc), ErrorCode.ALERT_TRANSITION_INVALID) from exc
    except (alert_data.AlertForbidden, psycopg.errors.InsufficientPrivilege) as exc:
        raise PageError(
            403,
            "Not allowed",
            "Your role cannot do this (staff cannot reassign alerts): ask your manager.",
            ErrorCode.FORBIDDEN,
        ) from exc
    return RedirectResponse(
        f"/dashboard/alerts/{target}?done={alert_data.past(action)}", status_code=303
    )
