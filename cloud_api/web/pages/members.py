"""Members: the list (search, filters, sorts, keyset pages) and a member's page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from cloud_api.data.dashboard import members as member_data
from cloud_api.web.context import ViewerDep, not_found, open_page, parse_id
from cloud_api.web.render import Renderer, next_page

router = APIRouter(include_in_schema=False)
Short = Annotated[str, Query(max_length=64)]

SORT_LABELS = {
    "churn": "Churn risk (highest first)",
    "engagement": "Engagement (lowest first)",
    "engaged": "Engagement (highest first)",
    "last_visit": "Last visit (most recent first)",
    "name": "Name",
}


@router.get("/dashboard/members")
async def members_page(
    request: Request,
    viewer: ViewerDep,
    gym: Short = "",
    q: Annotated[str, Query(max_length=100)] = "",
    risk: Short = "",
    status: Short = "",
    engagement: Short = "",
    sort: Short = "churn",
    cursor: Annotated[str, Query(max_length=400)] = "",
) -> Response:
    filters = member_data.MemberFilters(
        q=q, risk=risk, status=status, engagement=engagement, sort=sort
    )
    async with open_page(request, viewer, gym) as page:
        if page.too_many_gyms and page.gym is None and not q:
            result = member_data.MemberPage([], None)  # a million rows: choose a gym first
        else:
            result = await member_data.list_members(page.conn, page.scope, filters, cursor or None)
    next_url = next_page(
        "/dashboard/members",
        result.next_cursor,
        gym=gym,
        q=q,
        risk=risk,
        status=status,
        engagement=engagement,
        sort=sort,
    )
    context = page.context(
        "members",
        result=result,
        filters=filters,
        sorts=SORT_LABELS,
        risk_levels=member_data.RISK_LEVELS,
        statuses=member_data.STATUSES,
        bands=list(member_data.ENGAGEMENT_BANDS),
        next_url=next_url,
        first_page=not cursor,
        choose_gym=page.too_many_gyms and page.gym is None and not q,
    )
    renderer: Renderer = request.app.state.renderer
    return renderer.page(request, "members.html", context)


@router.get("/dashboard/members/{member_id}")
async def member_page(request: Request, viewer: ViewerDep, member_id: str) -> Response:
    async with open_page(request, viewer) as page:
        detail = await member_data.member_detail(page.conn, parse_id(member_id, "member"))
        if detail is None:
            raise not_found("member")
    renderer: Renderer = request.app.state.renderer
    return renderer.page(request, "member.html", page.context("members", detail=detail))
