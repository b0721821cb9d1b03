"""The gym's pages: overview, analytics (charts), weekly insights, and the live stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.responses import Response

from cloud_api.data.dashboard import alerts as alert_data
from cloud_api.data.dashboard import analytics
from cloud_api.data.dashboard import kiosks as kiosk_data
from cloud_api.data.dashboard import members as member_data
from cloud_api.data.dashboard import overview as overview_data
from cloud_api.services import Services
from cloud_api.web import charts
from cloud_api.web.context import ViewerDep, not_found, open_page, parse_id
from cloud_api.web.live import LiveHub, event_payload, next_change
from cloud_api.web.render import Renderer

router = APIRouter(include_in_schema=False)
GymParam = Annotated[str, Query(max_length=64)]


def renderer(request: Request) -> Renderer:
    found: Renderer = request.app.state.renderer
    return found


@router.get("/dashboard")
async def overview(request: Request, viewer: ViewerDep, gym: GymParam = "") -> Response:
    async with open_page(request, viewer, gym) as page:
        figures = await overview_data.overview(page.conn, page.scope)
        open_alerts = await alert_data.list_alerts(
            page.conn, page.scope, alert_data.AlertFilters(status="open")
        )
        at_risk = await member_data.list_members(
            page.conn, page.scope, member_data.MemberFilters(sort="churn")
        )
        days = await analytics.daily(page.conn, page.scope, days=14)
        context = page.context(
            "overview",
            figures=figures,
            budget=page.request.app.state.services.settings.voice_daily_budget_usd
            * max(figures.gyms, 1),
            alerts=open_alerts.rows[:6],
            at_risk=[m for m in at_risk.rows[:6] if m.churn_risk_level in ("high", "critical")],
            sessions_chart=charts.bars(
                "Conversations per day, last 14 days",
                [d["day"].strftime("%d/%m") for d in days],
                [d["sessions"] for d in days],
            ),
        )
    return renderer(request).page(request, "overview.html", context)


@router.get("/dashboard/analytics")
async def analytics_page(request: Request, viewer: ViewerDep, gym: GymParam = "") -> Response:
    async with open_page(request, viewer, gym) as page:
        days = await analytics.daily(page.conn, page.scope, days=30)
        churn = await analytics.churn_distribution(page.conn, page.scope)
    labels = [d["day"].strftime("%d/%m") for d in days]
    context = page.context(
        "analytics",
        sessions_chart=charts.bars("Conversations per day", labels, [d["sessions"] for d in days]),
        sentiment_chart=charts.sentiment_line(
            "Mean sentiment per day", labels, [d["sentiment"] for d in days]
        ),
        churn_chart=charts.levels("Members by churn risk", churn),
        cost_chart=charts.bars(
            "Realtime cost per day", labels, [float(d["cost_usd"]) for d in days], money=True
        ),
    )
    return renderer(request).page(request, "analytics.html", context)


@router.get("/dashboard/insights")
async def insights_page(request: Request, viewer: ViewerDep, gym: GymParam = "") -> Response:
    async with open_page(request, viewer, gym) as page:
        reports = await analytics.insights(page.conn, page.gym_id)
    return renderer(request).page(
        request, "insights.html", page.context("insights", reports=reports)
    )


@router.get("/dashboard/insights/{report_id}")
async def insight_page(request: Request, viewer: ViewerDep, report_id: str) -> Response:
    async with open_page(request, viewer) as page:
        report = await analytics.insight(page.conn, parse_id(report_id, "report"))
        if report is None:
            raise not_found("report")
    return renderer(request).page(request, "insight.html", page.context("insights", report=report))


@router.get("/dashboard/events")
async def events(request: Request, viewer: ViewerDep) -> EventSourceResponse:
    """Server-sent events: alerts and kiosk status as RLS lets this viewer see them."""
    services: Services = request.app.state.services
    hub: LiveHub = request.app.state.live
    expires_at = float(viewer.claims.get("exp", 0))
    env = renderer(request).env

    async def stream() -> AsyncIterator[ServerSentEvent]:
        async with hub.subscription() as queue:
            yield ServerSentEvent(event="ready", data="{}")
            while True:
                change = await next_change(queue, expires_at)
                if change is None:
                    return  # the hub stopped, or the token expired: the browser reconnects
                if await request.is_disconnected():
                    return
                async with services.database.transaction(viewer.claims) as conn:
                    if change.kind == "alert":
                        row = await alert_data.get_alert(conn, change.id)
                    else:
                        row = await kiosk_data.get_kiosk(conn, change.id)
                if row is None:
                    continue  # not this viewer's to see
                template = "_alert_row.html" if change.kind == "alert" else "_kiosk_row.html"
                html = env.get_template(template).render(
                    alert=row, kiosk=row, csrf_token=viewer.csrf_token, live=True
                )
                yield ServerSentEvent(
                    event=change.kind,
                    id=str(change.id),
                    data=event_payload(
                        change.kind,
                        {
                            "id": row["id"],
                            "status": row["status"],
                            "title": row.get("title") or row.get("name"),
                            "priority": row.get("priority"),
                            "html": html,
                        },
                    ),
                )

    return EventSourceResponse(stream(), ping=15, headers={"X-Accel-Buffering": "no"})


fallback = APIRouter(include_in_schema=False)


@fallback.get("/dashboard/{rest:path}")
async def unknown_page(request: Request, viewer: ViewerDep, rest: str) -> Response:
    raise not_found("page")
