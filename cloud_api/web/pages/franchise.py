"""The franchise owner's side-by-side comparison of their gyms, and the team page."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import psycopg
from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from cloud_api.auth.signin import SignInError, new_invitation_token, token_hash
from cloud_api.auth.supabase_signin import forget_supabase_user, invite_with_supabase
from cloud_api.data import local_auth
from cloud_api.data.dashboard import analytics, people
from cloud_api.services import Services
from cloud_api.web.context import ViewerDep, open_page, parse_id
from cloud_api.web.forms import checked_form, refused, text
from cloud_api.web.render import PageError, Renderer
from contract.errors import ErrorCode

router = APIRouter(include_in_schema=False)

SORTABLE = (
    "name",
    "members",
    "sessions",
    "engagement",
    "churn",
    "at_risk",
    "open_alerts",
    "cost_usd",
)


def _renderer(request: Request) -> Renderer:
    renderer: Renderer = request.app.state.renderer
    return renderer


@router.get("/dashboard/franchise")
async def comparison(request: Request, viewer: ViewerDep, sort: str = "name") -> Response:
    async with open_page(request, viewer) as page:
        gyms = await analytics.gym_comparison(page.conn)
    key = sort if sort in SORTABLE else "name"
    gyms.sort(key=lambda g: (g[key] is None, g[key] if key == "name" else -float(g[key] or 0)))
    return _renderer(request).page(
        request, "franchise.html", page.context("franchise", gyms=gyms, sort=key)
    )


# -- team: invitations and deactivation ----------------------------------------------------

NOTICES = {
    "deactivated": "The account is deactivated.",
    "reactivated": "The account is active again.",
    "invited": "Invitation sent: Supabase e-mailed the link.",
}


@router.get("/dashboard/team")
async def team(request: Request, viewer: ViewerDep) -> Response:
    async with open_page(request, viewer) as page:
        rows = await people.list_people(page.conn)
        franchises = (
            await people.list_franchise_refs(page.conn) if page.me.role == "super_admin" else []
        )
    return _renderer(request).page(
        request,
        "team.html",
        page.context(
            "team",
            people=rows,
            roles=people.invitable_roles(page.me.role),
            franchises=franchises,
            notice=NOTICES.get(request.query_params.get("done", ""), ""),
        ),
    )


@router.post("/dashboard/team")
async def invite(request: Request, viewer: ViewerDep) -> Response:
    form = await checked_form(request, viewer)
    email = text(form, "email", max_length=320).lower()
    role = text(form, "role", max_length=32)
    if "@" not in email or "." not in email.rsplit("@", 1)[-1]:
        raise refused("Type the person's email address.")
    services: Services = request.app.state.services
    settings = services.settings
    token = new_invitation_token()
    supabase_user: UUID | None = None
    if services.local_issuer is None:
        if not (settings.supabase_url and settings.supabase_service_role_key):
            raise PageError(
                501,
                "Invitations not configured",
                "Set JARVIS_SUPABASE_SERVICE_ROLE_KEY so the dashboard can send Supabase "
                "invitations, or invite from the Supabase dashboard.",
                ErrorCode.AUTH_UNAVAILABLE,
            )
        try:
            supabase_user = await invite_with_supabase(
                settings.supabase_url,
                settings.supabase_service_role_key.get_secret_value(),
                email,
                f"{str(request.base_url).rstrip('/')}/login",
                services.http,
            )
        except SignInError as exc:
            raise PageError(409, "Invitation refused", exc.message, exc.code) from exc
    try:
        async with open_page(request, viewer) as page:
            gym_id, franchise_id = await people.scope_ids(
                page.conn, role, text(form, "gym") or None, text(form, "franchise") or None
            )
            user_id = supabase_user or await local_auth.invite(
                page.conn,
                email,
                token_hash(token),
                timedelta(hours=settings.invitation_ttl_h),
            )
            await people.add_person(
                page.conn,
                user_id=user_id,
                email=email,
                full_name=text(form, "full_name", max_length=200) or None,
                role=role,
                gym_id=gym_id,
                franchise_id=franchise_id,
                actor_id=viewer.user_id,
            )
            context = page.context("team")
    except (people.PersonRefused, psycopg.Error, PageError) as exc:
        if (
            supabase_user is not None
            and settings.supabase_url
            and settings.supabase_service_role_key
        ):
            await forget_supabase_user(
                settings.supabase_url,
                settings.supabase_service_role_key.get_secret_value(),
                supabase_user,
                services.http,
            )
        if isinstance(exc, people.PersonRefused):
            raise refused(str(exc)) from exc
        if isinstance(exc, psycopg.errors.UniqueViolation):
            raise PageError(
                409, "Already there", f"{email} already has an account.", ErrorCode.ACCOUNT_EXISTS
            ) from exc
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            raise PageError(
                403,
                "Not allowed",
                "You cannot give this role in this gym (owners invite managers and staff, "
                "managers invite staff).",
                ErrorCode.FORBIDDEN,
            ) from exc
        raise
    if supabase_user is not None:
        return RedirectResponse("/dashboard/team?done=invited", status_code=303)
    link = f"{str(request.base_url).rstrip('/')}/auth/setup?token={token}"
    return _renderer(request).page(
        request,
        "invited.html",
        {**context, "email": email, "link": link, "hours": services.settings.invitation_ttl_h},
        201,
    )


@router.post("/dashboard/team/{user_id}")
async def set_active(request: Request, viewer: ViewerDep, user_id: str) -> Response:
    target: UUID = parse_id(user_id, "account")
    form = await checked_form(request, viewer)
    active = text(form, "active") == "true"
    try:
        async with open_page(request, viewer) as page:
            changed = await people.set_active(
                page.conn, user_id=target, active=active, actor_id=viewer.user_id
            )
    except people.PersonRefused as exc:
        raise refused(str(exc)) from exc
    if not changed:
        raise PageError(
            404, "Not found", "No such account that you can manage.", ErrorCode.NOT_FOUND
        )
    return RedirectResponse(
        f"/dashboard/team?done={'reactivated' if active else 'deactivated'}", status_code=303
    )
