"""JSON behind the dashboard's pages, for a gym's own tools (a user's bearer token).

The same data functions as the pages, in one transaction under the caller's claims: a gym
manager's token reads their gym, an owner's their franchise, a super admin's (aal2) all.
`gym` narrows to one gym by slug; a gym the caller cannot see answers 404.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

import psycopg
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from cloud_api.data.dashboard import alerts as alert_data
from cloud_api.data.dashboard import analytics
from cloud_api.data.dashboard import kiosks as kiosk_data
from cloud_api.data.dashboard import members as member_data
from cloud_api.data.dashboard import overview as overview_data
from cloud_api.data.dashboard import profile as profiles
from cloud_api.data.dashboard import sessions as session_data
from cloud_api.data.dashboard.common import CursorError, Scope
from cloud_api.db.database import Conn
from cloud_api.deps import ServicesDep, UserAdmin, UserCaller
from cloud_api.errors import ApiError, error_responses
from cloud_api.services import Services
from contract.errors import ErrorCode

router = APIRouter(prefix="/api/dashboard", tags=["dashboard"])
ERRORS = error_responses(401, 404, 422, 429)
GymSlug = Annotated[
    str | None, Query(max_length=64, description="Narrow to one gym (slug); default: all yours.")
]
Cursor = Annotated[
    str | None, Query(max_length=400, description="`next_cursor` of the previous page.")
]


@asynccontextmanager
async def scoped(
    services: Services, user: UserCaller, gym: str | None
) -> AsyncIterator[tuple[Conn, Scope]]:
    """The caller's transaction and the gyms to look at (the one asked for, or all theirs)."""
    async with services.database.transaction(user.claims) as conn:
        if gym:
            found = await profiles.gym_by_slug(conn, gym)
            if found is None:
                raise ApiError(ErrorCode.NOT_FOUND, f"No gym {gym!r} that you can see.")
            scope: Scope = (found.id,)
        else:
            scope = await profiles.scope_of(conn)
        try:
            yield conn, scope
        except CursorError as exc:
            raise ApiError(ErrorCode.CURSOR_MALFORMED, str(exc)) from exc


def _not_found(what: str) -> ApiError:
    return ApiError(ErrorCode.NOT_FOUND, f"No such {what} that you can see.")


# -- models ----------------------------------------------------------------------------------


class OverviewOut(BaseModel):
    gyms: int
    sessions_today: int
    sessions_week: int = Field(description="Conversations in the last 7 days.")
    members_active: int = Field(description="Members who came in the last 30 days.")
    members_total: int
    kiosks_online: int
    kiosks_total: int
    spend_today_usd: Decimal
    budget_today_usd: Decimal
    open_alerts: dict[str, int] = Field(description="Open alerts by priority.")


class MemberPageOut(BaseModel):
    members: list[member_data.MemberRow]
    next_cursor: str | None


class MemberDetailOut(BaseModel):
    member: dict[str, Any]
    analytics: dict[str, Any] | None
    conversations: list[dict[str, Any]]
    alerts: list[dict[str, Any]]


class SessionPageOut(BaseModel):
    sessions: list[dict[str, Any]]
    next_cursor: str | None


class SessionDetailOut(BaseModel):
    session: dict[str, Any]
    summary: dict[str, Any] | None
    turns: list[dict[str, Any]]
    cost: list[dict[str, Any]] = Field(description="Tokens and USD by token kind.")


class AlertOut(BaseModel):
    id: UUID
    gym_id: UUID
    gym_slug: str
    member_id: UUID | None
    kiosk_id: UUID | None
    alert_type: str
    priority: str
    title: str
    description: str | None
    recommended_actions: Any
    context: Any
    status: str
    assigned_to: UUID | None
    resolved_at: datetime | None
    resolution_notes: str | None
    created_at: datetime
    updated_at: datetime


class AlertPageOut(BaseModel):
    alerts: list[AlertOut]
    next_cursor: str | None


class AlertActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["assign", "start", "resolve", "dismiss"]
    notes: str | None = Field(default=None, max_length=4000)
    assignee: UUID | None = Field(default=None, description="`assign`: a user of the gym.")


class AnalyticsOut(BaseModel):
    daily: list[dict[str, Any]] = Field(description="Per UTC day: sessions, cost_usd, sentiment.")
    churn: dict[str, int] = Field(description="Members by churn risk level.")


# -- endpoints --------------------------------------------------------------------------------


@router.get("/overview", response_model=OverviewOut, responses=ERRORS, summary="Today at a glance")
async def overview(user: UserAdmin, services: ServicesDep, gym: GymSlug = None) -> OverviewOut:
    async with scoped(services, user, gym) as (conn, scope):
        figures = await overview_data.overview(conn, scope)
    return OverviewOut(
        gyms=figures.gyms,
        sessions_today=figures.sessions_today,
        sessions_week=figures.sessions_week,
        members_active=figures.members_active,
        members_total=figures.members_total,
        kiosks_online=figures.kiosks_online,
        kiosks_total=figures.kiosks_total,
        spend_today_usd=figures.spend_today_usd,
        budget_today_usd=services.settings.voice_daily_budget_usd * max(figures.gyms, 1),
        open_alerts=figures.open_alerts,
    )


@router.get(
    "/members",
    response_model=MemberPageOut,
    responses=ERRORS,
    summary="Members: search, filter, sort (churn, engagement, name, last visit), 50 a page",
)
async def members(
    user: UserAdmin,
    services: ServicesDep,
    gym: GymSlug = None,
    q: Annotated[str, Query(max_length=100)] = "",
    risk: Literal["", "low", "medium", "high", "critical"] = "",
    status: Literal["", "active", "suspended", "expired"] = "",
    engagement: Literal["", "low", "medium", "high"] = "",
    sort: Literal["churn", "engagement", "engaged", "name", "last_visit"] = "churn",
    cursor: Cursor = None,
) -> MemberPageOut:
    filters = member_data.MemberFilters(
        q=q, risk=risk, status=status, engagement=engagement, sort=sort
    )
    async with scoped(services, user, gym) as (conn, scope):
        page = await member_data.list_members(conn, scope, filters, cursor)
    return MemberPageOut(
        members=page.rows,
        next_cursor=page.next_cursor,
    )


@router.get(
    "/members/{member_id}",
    response_model=MemberDetailOut,
    responses=ERRORS,
    summary="A member: profile, analytics, churn factors, recent conversations, alerts",
)
async def member(member_id: UUID, user: UserAdmin, services: ServicesDep) -> MemberDetailOut:
    async with scoped(services, user, None) as (conn, _):
        detail = await member_data.member_detail(conn, member_id)
    if detail is None:
        raise _not_found("member")
    return MemberDetailOut(
        member=detail.member,
        analytics=detail.analytics,
        conversations=detail.conversations,
        alerts=detail.alerts,
    )


@router.get(
    "/sessions",
    response_model=SessionPageOut,
    responses=ERRORS,
    summary="Conversations, newest first, 50 a page",
)
async def sessions(
    user: UserAdmin,
    services: ServicesDep,
    gym: GymSlug = None,
    sentiment: Literal["", "positive", "neutral", "negative"] = "",
    days: Annotated[int | None, Query(ge=1, le=400)] = None,
    cursor: Cursor = None,
) -> SessionPageOut:
    filters = session_data.SessionFilters(sentiment=sentiment, days=days)
    async with scoped(services, user, gym) as (conn, scope):
        page = await session_data.list_sessions(conn, scope, filters, cursor)
    return SessionPageOut(sessions=page.rows, next_cursor=page.next_cursor)


@router.get(
    "/sessions/{session_id}",
    response_model=SessionDetailOut,
    responses=ERRORS,
    summary="A conversation: transcript, summary, sentiment, tools, cost, latency",
)
async def session(session_id: UUID, user: UserAdmin, services: ServicesDep) -> SessionDetailOut:
    async with scoped(services, user, None) as (conn, _):
        detail = await session_data.session_detail(conn, session_id)
    if detail is None:
        raise _not_found("conversation")
    detail.session.pop("embedding", None)
    return SessionDetailOut(
        session=detail.session,
        summary=detail.summary,
        turns=[t.__dict__ for t in detail.turns],
        cost=[{"kind": k, "tokens": n, "usd": usd} for k, n, usd in detail.cost],
    )


@router.get(
    "/alerts",
    response_model=AlertPageOut,
    responses=ERRORS,
    summary="Alerts, most urgent first (default: open ones)",
)
async def alerts(
    user: UserAdmin,
    services: ServicesDep,
    gym: GymSlug = None,
    status: Literal["open", "all", "pending", "in_progress", "resolved", "dismissed"] = "open",
    priority: Literal["", "urgent", "high", "medium", "low"] = "",
    cursor: Cursor = None,
) -> AlertPageOut:
    filters = alert_data.AlertFilters(status=status, priority=priority)
    async with scoped(services, user, gym) as (conn, scope):
        page = await alert_data.list_alerts(conn, scope, filters, cursor)
    return AlertPageOut(
        alerts=[AlertOut.model_validate(a) for a in page.rows], next_cursor=page.next_cursor
    )


@router.post(
    "/alerts/{alert_id}",
    response_model=AlertOut,
    responses=error_responses(401, 403, 404, 409, 422, 429),
    summary="Assign, start, resolve (with notes) or dismiss an alert (the last two are final)",
)
async def alert_action(
    alert_id: UUID, body: AlertActionIn, user: UserAdmin, services: ServicesDep
) -> AlertOut:
    try:
        async with services.database.transaction(user.claims) as conn:
            alert = await alert_data.act_on_alert(
                conn,
                alert_id,
                alert_data.AlertAction(body.action),
                notes=body.notes,
                assignee=body.assignee,
            )
    except alert_data.AlertNotFound as exc:
        raise _not_found("alert") from exc
    except alert_data.TransitionRefused as exc:
        raise ApiError(ErrorCode.ALERT_TRANSITION_INVALID, f"{exc}.") from exc
    except (alert_data.AlertForbidden, psycopg.errors.InsufficientPrivilege) as exc:
        raise ApiError(
            ErrorCode.FORBIDDEN, "Your role cannot do this (staff cannot reassign alerts)."
        ) from exc
    return AlertOut.model_validate(alert)


@router.get(
    "/kiosks",
    response_model=list[dict[str, Any]],
    responses=ERRORS,
    summary="Kiosks: status, last heartbeat, health",
)
async def kiosks(
    user: UserAdmin, services: ServicesDep, gym: GymSlug = None
) -> list[dict[str, Any]]:
    async with scoped(services, user, gym) as (conn, scope):
        rows = await kiosk_data.list_kiosks(conn, scope)
    return rows


@router.get(
    "/analytics",
    response_model=AnalyticsOut,
    responses=ERRORS,
    summary="Sessions, cost and sentiment per day; churn distribution",
)
async def analytics_figures(
    user: UserAdmin,
    services: ServicesDep,
    gym: GymSlug = None,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> AnalyticsOut:
    async with scoped(services, user, gym) as (conn, scope):
        daily = await analytics.daily(conn, scope, days)
        churn = await analytics.churn_distribution(conn, scope)
    return AnalyticsOut(daily=daily, churn=churn)


@router.get(
    "/insights",
    response_model=list[dict[str, Any]],
    responses=ERRORS,
    summary="Published weekly insight reports",
)
async def insights(
    user: UserAdmin, services: ServicesDep, gym: GymSlug = None
) -> list[dict[str, Any]]:
    async with scoped(services, user, gym) as (conn, scope):
        return await analytics.insights(conn, scope[0] if gym and scope else None)


@router.get(
    "/franchise/comparison",
    response_model=list[dict[str, Any]],
    responses=ERRORS,
    summary="Every gym you can see side by side over the last 30 days",
)
async def comparison(user: UserAdmin, services: ServicesDep) -> list[dict[str, Any]]:
    async with scoped(services, user, None) as (conn, _):
        return await analytics.gym_comparison(conn)
