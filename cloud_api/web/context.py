"""Who is looking and in which gym: the viewer (from cookies), and one page's transaction.

A page runs one transaction under the viewer's claims: it reads their own account, the gyms
they can see and the page's data, so RLS decides everything shown. The only decision taken
in Python is which navigation to offer (a role's menu); a forbidden action still reaches the
database, which refuses it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from fastapi import Depends
from starlette.requests import Request

from cloud_api.auth.signin import AuthTokens, SignInError
from cloud_api.auth.users import UserTokenError
from cloud_api.data.dashboard import profile as profiles
from cloud_api.data.dashboard.common import CursorError, Scope
from cloud_api.db.database import Conn
from cloud_api.services import Services
from cloud_api.web import session
from cloud_api.web.render import PageError, Redirect
from contract.errors import ErrorCode

MANAGERS = ("super_admin", "franchise_owner", "gym_manager")


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str
    key: str


def navigation(role: str) -> list[NavItem]:
    """The menu for a role: what is worth offering, not what is allowed (RLS decides that)."""
    items = [
        NavItem("/dashboard", "Overview", "overview"),
        NavItem("/dashboard/members", "Members", "members"),
        NavItem("/dashboard/sessions", "Conversations", "sessions"),
        NavItem("/dashboard/alerts", "Alerts", "alerts"),
        NavItem("/dashboard/kiosks", "Kiosks", "kiosks"),
        NavItem("/dashboard/analytics", "Analytics", "analytics"),
        NavItem("/dashboard/insights", "Weekly insights", "insights"),
        NavItem("/dashboard/members/import", "Import members", "import"),
    ]
    if role in ("franchise_owner", "super_admin"):
        items.append(NavItem("/dashboard/franchise", "Compare gyms", "franchise"))
    if role in MANAGERS:
        items.append(NavItem("/dashboard/team", "Team", "team"))
    if role == "super_admin":
        items += [
            NavItem("/dashboard/admin/clients", "Franchises & gyms", "clients"),
            NavItem("/dashboard/admin/monitoring", "Fleet", "monitoring"),
            NavItem("/dashboard/admin/costs", "Costs", "costs"),
            NavItem("/dashboard/admin/logs", "Audit log", "logs"),
        ]
    return items


async def current_viewer(services: Services, request: Request) -> session.Viewer | None:
    """The signed-in person, refreshing an expired access token; None when signed out."""
    access = session.read_cookie(request, session.ACCESS)
    refresh = session.read_cookie(request, session.REFRESH)
    if access:
        try:
            claims = await services.user_tokens.verify(access)
            return _viewer(services, claims, AuthTokens(access, refresh or "", 0))
        except UserTokenError as exc:
            if exc.code == ErrorCode.AUTH_UNAVAILABLE:
                raise PageError(503, "Sign-in unavailable", str(exc), exc.code) from exc
    if not refresh or services.signin is None:
        return None
    policy = session.cookie_policy(services.settings, request)
    try:
        tokens = await services.signin.refresh(refresh)
        claims = await services.user_tokens.verify(tokens.access_token)
    except (SignInError, UserTokenError):
        session.clear_session_cookies(request, policy)
        return None
    session.set_session_cookies(request, policy, tokens)
    return _viewer(
        services, claims, AuthTokens(tokens.access_token, tokens.refresh_token or refresh, 0)
    )


def _viewer(services: Services, claims: dict[str, Any], tokens: AuthTokens) -> session.Viewer:
    return session.Viewer(
        user_id=UUID(str(claims["sub"])),
        email=str(claims.get("email", "")),
        claims=claims,
        tokens=tokens,
        csrf_token=session.CsrfKeys(services.csrf_key).for_session(claims),
    )


def sign_in_first(request: Request) -> Redirect:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"/login?next={quote(target, safe='')}")


async def require_viewer(request: Request) -> session.Viewer:
    services: Services = request.app.state.services
    viewer = await current_viewer(services, request)
    if viewer is None:
        raise sign_in_first(request)
    return viewer


ViewerDep = Annotated[session.Viewer, Depends(require_viewer)]
"""A page's signed-in viewer (a redirect to sign-in otherwise)."""


@dataclass
class Page:
    """One page's unit of work: the viewer's transaction, account, gyms and chosen gym."""

    request: Request
    viewer: session.Viewer
    conn: Conn
    me: profiles.Profile
    gyms: list[profiles.GymRef]
    gym: profiles.GymRef | None
    every_gym: Scope = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def gym_id(self) -> UUID | None:
        return self.gym.id if self.gym else None

    @property
    def scope(self) -> Scope:
        """The chosen gym, or every gym the viewer can see."""
        return (self.gym.id,) if self.gym else self.every_gym

    @property
    def many_gyms(self) -> bool:
        return len(self.gyms) > 1

    @property
    def too_many_gyms(self) -> bool:
        return len(self.gyms) > profiles.SWITCHER_LIMIT

    def context(self, active: str, **data: Any) -> dict[str, Any]:
        return {
            "me": self.me,
            "viewer": self.viewer,
            "csrf_token": self.viewer.csrf_token,
            "nav": navigation(self.me.role),
            "active": active,
            "gyms": self.gyms[: profiles.SWITCHER_LIMIT],
            "gym": self.gym,
            "gym_slug": self.gym.slug if self.gym else "",
            "many_gyms": self.many_gyms,
            "can_manage": self.me.role in MANAGERS,
            **data,
        }


def needs_second_factor(me: profiles.Profile, viewer: session.Viewer) -> bool:
    return viewer.aal != "aal2" and (me.role == "super_admin" or me.mfa_enabled)


@asynccontextmanager
async def open_page(
    request: Request, viewer: session.Viewer, gym_slug: str | None = None
) -> AsyncIterator[Page]:
    services: Services = request.app.state.services
    async with services.database.transaction(viewer.claims) as conn:
        me = await profiles.my_profile(conn)
        if me is None:
            raise PageError(
                403,
                "Account not active",
                "This account has no access to the dashboard (deactivated, or never set up). "
                "Ask your manager or the JARVIS team.",
                ErrorCode.FORBIDDEN,
            )
        if needs_second_factor(me, viewer):
            raise Redirect("/auth/mfa")
        gyms = await profiles.visible_gyms(conn)
        gym = None
        if gym_slug:
            gym = await profiles.gym_by_slug(conn, gym_slug)
            if gym is None:
                raise PageError(404, "Not found", "No such gym.", ErrorCode.NOT_FOUND)
        elif len(gyms) == 1:
            gym = gyms[0]
        every_gym = None if gym else await profiles.scope_of(conn)
        try:
            yield Page(request, viewer, conn, me, gyms, gym, every_gym)
        except CursorError as exc:
            raise PageError(422, "Page link damaged", str(exc), ErrorCode.CURSOR_MALFORMED) from exc


def not_found(what: str) -> PageError:
    return PageError(404, "Not found", f"No such {what}.", ErrorCode.NOT_FOUND)


def parse_id(value: str, what: str) -> UUID:
    """A page's id from its URL; anything else is a page that does not exist."""
    try:
        return UUID(value)
    except ValueError as exc:
        raise not_found(what) from exc
