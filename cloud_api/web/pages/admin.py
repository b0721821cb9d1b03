"""Operators' pages: franchises and gyms, fleet monitoring, costs, audit log.

Only super admins with a second factor get anything from RLS here; the menu offers these
pages to them alone, and anyone else reaching the URL sees empty lists or a refusal.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from cloud_api.data.dashboard import admin as admin_data
from cloud_api.data.dashboard import kiosks as kiosk_data
from cloud_api.web.context import ViewerDep, open_page, parse_id
from cloud_api.web.forms import checked_form, refused, text
from cloud_api.web.render import PageError, Renderer, next_page
from contract.errors import ErrorCode

router = APIRouter(include_in_schema=False)
PLANS = ("starter", "pro", "enterprise")
ADMIN_ONLY = PageError(403, "Not allowed", "Only the JARVIS team can do this.", ErrorCode.FORBIDDEN)
NOTICES = {
    "franchise": "Franchise created.",
    "gym": "Gym created.",
    "status": "Status changed.",
}


def _renderer(request: Request) -> Renderer:
    renderer: Renderer = request.app.state.renderer
    return renderer


@router.get("/dashboard/admin/clients")
async def clients(request: Request, viewer: ViewerDep) -> Response:
    async with open_page(request, viewer) as page:
        franchises = await admin_data.list_franchises(page.conn)
        gyms = await admin_data.list_gyms(page.conn)
    return _renderer(request).page(
        request,
        "admin_clients.html",
        page.context(
            "clients",
            franchises=franchises,
            all_gyms=gyms,
            plans=PLANS,
            franchise_statuses=admin_data.FRANCHISE_STATUSES,
            gym_statuses=admin_data.GYM_STATUSES,
            notice=NOTICES.get(request.query_params.get("done", ""), ""),
        ),
    )


@router.post("/dashboard/admin/franchises")
async def create_franchise(request: Request, viewer: ViewerDep) -> Response:
    form = await checked_form(request, viewer)
    name = text(form, "name", max_length=200)
    if not name:
        raise refused("Give the franchise a name.")
    try:
        async with open_page(request, viewer) as page:
            await admin_data.create_franchise(
                page.conn,
                slug=text(form, "slug", max_length=63),
                name=name,
                city=text(form, "city", max_length=200) or None,
                plan=text(form, "plan") if text(form, "plan") in PLANS else "starter",
                actor_id=viewer.user_id,
            )
    except admin_data.AdminRefused as exc:
        raise refused(str(exc)) from exc
    except psycopg.errors.InsufficientPrivilege as exc:
        raise ADMIN_ONLY from exc
    return RedirectResponse("/dashboard/admin/clients?done=franchise", status_code=303)


@router.post("/dashboard/admin/gyms")
async def create_gym(request: Request, viewer: ViewerDep) -> Response:
    form = await checked_form(request, viewer)
    name = text(form, "name", max_length=200)
    if not name:
        raise refused("Give the gym a name.")
    try:
        async with open_page(request, viewer) as page:
            await admin_data.create_gym(
                page.conn,
                slug=text(form, "slug", max_length=63),
                name=name,
                city=text(form, "city", max_length=200) or None,
                franchise_slug=text(form, "franchise", max_length=63) or None,
                timezone=text(form, "timezone", max_length=64) or "Europe/Paris",
                actor_id=viewer.user_id,
            )
    except admin_data.AdminRefused as exc:
        raise refused(str(exc)) from exc
    except psycopg.errors.InsufficientPrivilege as exc:
        raise ADMIN_ONLY from exc
    return RedirectResponse("/dashboard/admin/clients?done=gym", status_code=303)


@router.post("/dashboard/admin/{kind}/{target_id}/status")
async def set_status(request: Request, viewer: ViewerDep, kind: str, target_id: str) -> Response:
    if kind not in ("franchise", "gym"):
        raise PageError(404, "Not found", "No such page.", ErrorCode.NOT_FOUND)
    target = parse_id(target_id, kind)
    form = await checked_form(request, viewer)
    try:
        async with open_page(request, viewer) as page:
            changed = await admin_data.set_status(
                page.conn,
                kind=kind,
                target_id=target,
                status=text(form, "status"),
                actor_id=viewer.user_id,
            )
    except admin_data.AdminRefused as exc:
        raise refused(str(exc)) from exc
    except psycopg.errors.InsufficientPrivilege as exc:
        raise ADMIN_ONLY from exc
    if not changed:
        raise ADMIN_ONLY
    return RedirectResponse("/dashboard/admin/clients?done=status", status_code=303)


@router.get("/dashboard/admin/monitoring")
async def monitoring(request: Request, viewer: ViewerDep) -> Response:
    async with open_page(request, viewer) as page:
        fleet = await kiosk_data.fleet(page.conn)
    return _renderer(request).page(
        request, "admin_monitoring.html", page.context("monitoring", fleet=fleet)
    )


@router.get("/dashboard/admin/costs")
async def costs(
    request: Request, viewer: ViewerDep, days: Annotated[int, Query(ge=1, le=90)] = 14
) -> Response:
    async with open_page(request, viewer) as page:
        rows = await admin_data.costs(page.conn, days)
    by_customer: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"sessions": 0, "cost_usd": Decimal(0), "days": {}}
    )
    day_list = sorted({r["day"] for r in rows}, reverse=True)
    for r in rows:
        entry = by_customer[r["customer"]]
        entry["sessions"] += r["sessions"]
        entry["cost_usd"] += r["cost_usd"]
        entry["days"][r["day"]] = r["cost_usd"]
    customers = sorted(by_customer.items(), key=lambda kv: -kv[1]["cost_usd"])
    return _renderer(request).page(
        request,
        "admin_costs.html",
        page.context("costs", customers=customers, days=day_list, period=days),
    )


@router.get("/dashboard/admin/logs")
async def logs(
    request: Request,
    viewer: ViewerDep,
    action: Annotated[str, Query(max_length=64)] = "",
    cursor: Annotated[str, Query(max_length=400)] = "",
) -> Response:
    async with open_page(request, viewer) as page:
        result = await admin_data.audit_log(page.conn, action=action, cursor=cursor or None)
    next_url = next_page("/dashboard/admin/logs", result.next_cursor, action=action)
    return _renderer(request).page(
        request,
        "admin_logs.html",
        page.context("logs", result=result, action=action, next_url=next_url),
    )
