"""Kiosks: status (live), a kiosk's health, creating one and showing its code, new code,
revoke. Creating and revoking go through cloud_api.kiosks, as the API and the CLI do."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import psycopg
from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from cloud_api.data import audit, kiosks
from cloud_api.data.dashboard import kiosks as kiosk_data
from cloud_api.services import Services
from cloud_api.web.context import ViewerDep, not_found, open_page, parse_id
from cloud_api.web.forms import checked_form, refused, text
from cloud_api.web.render import PageError, Renderer
from contract.errors import ErrorCode
from provisioning.code import display_code

router = APIRouter(include_in_schema=False)

NOT_YOURS = PageError(
    403,
    "Not allowed",
    "Your role cannot manage kiosks (gym staff see them only): ask your manager.",
    ErrorCode.FORBIDDEN,
)


def _renderer(request: Request) -> Renderer:
    renderer: Renderer = request.app.state.renderer
    return renderer


@router.get("/dashboard/kiosks")
async def kiosks_page(
    request: Request, viewer: ViewerDep, gym: Annotated[str, Query(max_length=64)] = ""
) -> Response:
    async with open_page(request, viewer, gym) as page:
        rows = await kiosk_data.list_kiosks(page.conn, page.scope)
        done = request.query_params.get("done", "")
    return _renderer(request).page(
        request,
        "kiosks.html",
        page.context(
            "kiosks",
            kiosks=rows,
            notice={"revoked": "The kiosk's credentials are revoked."}.get(done, ""),
        ),
    )


@router.post("/dashboard/kiosks")
async def create_kiosk(request: Request, viewer: ViewerDep) -> Response:
    form = await checked_form(request, viewer)
    name, gym_slug = text(form, "name", max_length=200), text(form, "gym", max_length=64)
    if not name or not gym_slug:
        raise refused("Give the kiosk a name and choose its gym.")
    services: Services = request.app.state.services
    ttl = timedelta(minutes=services.settings.provisioning_code_ttl_min)
    try:
        async with open_page(request, viewer) as page:
            issued = await kiosks.create_kiosk(
                page.conn,
                gym_slug=gym_slug,
                name=name,
                location=text(form, "location", max_length=200) or None,
                pepper=services.code_pepper,
                ttl=ttl,
                actor=audit.Actor("user", viewer.user_id),
            )
    except kiosks.KioskNotFound as exc:
        raise not_found("gym") from exc
    except (kiosks.NotAllowed, psycopg.errors.InsufficientPrivilege) as exc:
        raise NOT_YOURS from exc
    return _code_page(request, page.context("kiosks"), issued, created=True)


def _code_page(
    request: Request, context: dict[str, object], issued: kiosks.IssuedCode, *, created: bool
) -> Response:
    return _renderer(request).page(
        request,
        "kiosk_code.html",
        {
            **context,
            "issued": issued,
            "code": display_code(issued.code),
            "created": created,
            "cloud_url": str(request.base_url).rstrip("/"),
        },
        201 if created else 200,
    )


@router.get("/dashboard/kiosks/{kiosk_id}")
async def kiosk_page(request: Request, viewer: ViewerDep, kiosk_id: str) -> Response:
    target = parse_id(kiosk_id, "kiosk")
    async with open_page(request, viewer) as page:
        kiosk = await kiosk_data.get_kiosk(page.conn, target)
        if kiosk is None:
            raise not_found("kiosk")
        beats = await kiosk_data.recent_heartbeats(page.conn, target)
        events = await kiosk_data.recent_events(page.conn, target)
    return _renderer(request).page(
        request,
        "kiosk.html",
        page.context("kiosks", kiosk=kiosk, beats=beats, events=events),
    )


@router.post("/dashboard/kiosks/{kiosk_id}/code")
async def new_code(request: Request, viewer: ViewerDep, kiosk_id: str) -> Response:
    target = parse_id(kiosk_id, "kiosk")
    await checked_form(request, viewer)
    services: Services = request.app.state.services
    try:
        async with open_page(request, viewer) as page:
            issued = await kiosks.regenerate_code(
                page.conn,
                kiosk_id=target,
                pepper=services.code_pepper,
                ttl=timedelta(minutes=services.settings.provisioning_code_ttl_min),
                actor=audit.Actor("user", viewer.user_id),
            )
    except kiosks.KioskNotFound as exc:
        raise not_found("kiosk") from exc
    except (kiosks.NotAllowed, psycopg.errors.InsufficientPrivilege) as exc:
        raise NOT_YOURS from exc
    return _code_page(request, page.context("kiosks"), issued, created=False)


@router.post("/dashboard/kiosks/{kiosk_id}/revoke")
async def revoke(request: Request, viewer: ViewerDep, kiosk_id: str) -> Response:
    target = parse_id(kiosk_id, "kiosk")
    await checked_form(request, viewer)
    try:
        async with open_page(request, viewer) as page:
            await kiosks.revoke_credentials(
                page.conn, kiosk_id=target, actor=audit.Actor("user", viewer.user_id)
            )
    except kiosks.KioskNotFound as exc:
        raise not_found("kiosk") from exc
    except (kiosks.NotAllowed, psycopg.errors.InsufficientPrivilege) as exc:
        raise NOT_YOURS from exc
    return RedirectResponse("/dashboard/kiosks?done=revoked", status_code=303)
