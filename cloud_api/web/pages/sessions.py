"""Conversations: the list and one conversation (transcript, summary, tools, cost, latency)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from cloud_api.data.dashboard import sessions as session_data
from cloud_api.web.context import ViewerDep, not_found, open_page, parse_id
from cloud_api.web.render import Renderer, next_page

router = APIRouter(include_in_schema=False)
Short = Annotated[str, Query(max_length=64)]


@router.get("/dashboard/sessions")
async def sessions_page(
    request: Request,
    viewer: ViewerDep,
    gym: Short = "",
    sentiment: Short = "",
    days: Annotated[int | None, Query(ge=1, le=400)] = None,
    cursor: Annotated[str, Query(max_length=400)] = "",
) -> Response:
    filters = session_data.SessionFilters(sentiment=sentiment, days=days)
    async with open_page(request, viewer, gym) as page:
        result = await session_data.list_sessions(page.conn, page.scope, filters, cursor or None)
    next_url = next_page(
        "/dashboard/sessions", result.next_cursor, gym=gym, sentiment=sentiment, days=days
    )
    renderer: Renderer = request.app.state.renderer
    return renderer.page(
        request,
        "sessions.html",
        page.context(
            "sessions",
            result=result,
            filters=filters,
            sentiments=session_data.SENTIMENTS,
            next_url=next_url,
            first_page=not cursor,
        ),
    )


@router.get("/dashboard/sessions/{session_id}")
async def session_page(request: Request, viewer: ViewerDep, session_id: str) -> Response:
    async with open_page(request, viewer) as page:
        detail = await session_data.session_detail(page.conn, parse_id(session_id, "conversation"))
        if detail is None:
            raise not_found("conversation")
    renderer: Renderer = request.app.state.renderer
    return renderer.page(request, "session.html", page.context("sessions", detail=detail))
