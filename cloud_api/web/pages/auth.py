"""Sign-in pages: /login, /auth/mfa (TOTP challenge or enrolment), /auth/setup (an
invitation's password), /logout. The customer document's auth flow, server-rendered."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from cloud_api import ratelimit
from cloud_api.auth.signin import FactorState, SignIn, SignInError, token_hash
from cloud_api.data import limits, local_auth
from cloud_api.data.dashboard import profile as profiles
from cloud_api.deps import client_ip
from cloud_api.passwords import hash_password
from cloud_api.ratelimit import caller_key_for_address
from cloud_api.services import Services
from cloud_api.web import session
from cloud_api.web.context import ViewerDep, current_viewer
from cloud_api.web.forms import checked_form, text
from cloud_api.web.render import PageError, Redirect, Renderer
from contract.errors import HTTP_STATUS, ErrorCode

router = APIRouter(include_in_schema=False)
MIN_PASSWORD = 12

NOTICES = {
    "signed_out": "You are signed out.",
    "password_set": "Your password is set: sign in.",
    "expired": "Your session has ended: sign in again.",
}


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _renderer(request: Request) -> Renderer:
    renderer: Renderer = request.app.state.renderer
    return renderer


def _signin(services: Services) -> SignIn:
    if services.signin is None:
        raise PageError(
            503,
            "Sign-in not configured",
            "This cloud uses Supabase Auth but JARVIS_SUPABASE_ANON_KEY is not set: ask the "
            "operator to set it.",
            ErrorCode.AUTH_UNAVAILABLE,
        )
    return services.signin


async def _charge(services: Services, caller: str) -> ratelimit.Decision:
    """One attempt on the `login` limit (shared by every replica), decided now: the page
    answers a refusal itself, in words, before any password is checked."""
    limit = services.rate_limiter.limit("login")
    async with services.database.login_role_transaction() as conn:
        count = await limits.take(conn, limit.bucket, caller, limit.per_window, limit.window_s)
    return ratelimit.decide(limit, count)


def _safe_next(target: str | None) -> str:
    """Only this dashboard's own pages: never an open redirect."""
    if target and target.startswith("/dashboard") and "//" not in target and "\\" not in target:
        return target
    return "/dashboard"


def _login_page(
    request: Request, *, error: str = "", email: str = "", next_url: str = "", status: int = 200
) -> Response:
    services = _services(request)
    policy = session.cookie_policy(services.settings, request)
    csrf = session.presession_token(request, session.CsrfKeys(services.csrf_key), policy)
    notice = NOTICES.get(request.query_params.get("notice", ""), "")
    return _renderer(request).page(
        request,
        "login.html",
        {
            "csrf_token": csrf,
            "error": error,
            "notice": notice,
            "email": email,
            "next_url": next_url,
            "supabase": services.local_issuer is None,
        },
        status,
    )


@router.get("/")
async def root(request: Request) -> Response:
    return RedirectResponse("/dashboard", status_code=303)


@router.get("/login")
async def login_form(request: Request, next: str = "") -> Response:
    viewer = await current_viewer(_services(request), request)
    if viewer is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, next_url=next)


@router.post("/login")
async def login(request: Request) -> Response:
    services = _services(request)
    form = await request.form()
    email, password = str(form.get("email") or "").strip(), str(form.get("password") or "")
    next_url = str(form.get("next") or "")
    keys = session.CsrfKeys(services.csrf_key)
    if not session.presession_ok(request, keys, str(form.get(session.CSRF_FIELD) or "")):
        return _login_page(
            request,
            error="This sign-in form had expired: please try again.",
            email=email,
            next_url=next_url,
            status=403,
        )
    ip = client_ip(request)
    decision = await _charge(services, f"ip:{caller_key_for_address(ip)}")
    if not decision.allowed:
        response = _login_page(
            request,
            error=f"Too many sign-in attempts from your address. Wait {decision.reset_s} "
            "seconds, then try again.",
            email=email,
            next_url=next_url,
            status=429,
        )
        response.headers.update(decision.headers())
        return response
    if not email or not password or len(email) > 320 or len(password) > 200:
        return _login_page(
            request, error="Type your email and your password.", email=email, status=422
        )
    try:
        tokens = await _signin(services).with_password(email, password, ip)
    except SignInError as exc:
        response = _login_page(
            request,
            error=exc.message,
            email=email,
            next_url=next_url,
            status=HTTP_STATUS.get(exc.code, 401),
        )
        response.headers.update(exc.headers() or {})
        return response
    policy = session.cookie_policy(services.settings, request)
    session.set_session_cookies(request, policy, tokens)
    claims = await services.user_tokens.verify(tokens.access_token)
    async with services.database.transaction(claims) as conn:
        me = await profiles.my_profile(conn)
    if me is not None and (me.role == "super_admin" or me.mfa_enabled):
        return RedirectResponse(
            "/auth/mfa" + (f"?next={next_url}" if next_url else ""), status_code=303
        )
    return RedirectResponse(_safe_next(next_url), status_code=303)


def _qr_svg(uri: str) -> str:
    svg: str = segno.make(uri, error="m").svg_inline(scale=4, dark="#111", light="#fff")
    return svg


@router.get("/auth/mfa")
async def mfa_form(request: Request, viewer: ViewerDep, next: str = "") -> Response:
    return await _mfa_page(request, viewer, next_url=next)


async def _mfa_page(
    request: Request,
    viewer: session.Viewer,
    *,
    error: str = "",
    next_url: str = "",
    status: int = 200,
) -> Response:
    services = _services(request)
    if viewer.aal == "aal2":
        raise Redirect(_safe_next(next_url))
    signin = _signin(services)
    try:
        state = await signin.factor_state(viewer.claims, viewer.tokens.access_token)
        context: dict[str, Any] = {"enrol": state is not FactorState.VERIFIED}
        if context["enrol"]:
            enrollment = await signin.enroll(viewer.claims, viewer.tokens, viewer.email)
            context.update(secret=enrollment.secret, qr_svg=_qr_svg(enrollment.uri))
    except SignInError as exc:
        raise PageError(401, "Sign in again", exc.message, exc.code) from exc
    return _renderer(request).page(
        request,
        "mfa.html",
        {
            **context,
            "csrf_token": viewer.csrf_token,
            "error": error,
            "next_url": next_url,
            "email": viewer.email,
        },
        status,
    )


@router.post("/auth/mfa")
async def mfa_verify(request: Request, viewer: ViewerDep) -> Response:
    services = _services(request)
    form = await checked_form(request, viewer)
    next_url = text(form, "next")
    decision = await _charge(services, f"user:{viewer.user_id}")
    if not decision.allowed:
        return await _mfa_page(
            request,
            viewer,
            error=f"Too many codes tried. Wait {decision.reset_s} seconds, then try again.",
            next_url=next_url,
            status=429,
        )
    try:
        tokens = await _signin(services).verify(viewer.claims, viewer.tokens, text(form, "code"))
    except SignInError as exc:
        if exc.code != ErrorCode.MFA_CODE_INVALID:
            raise PageError(401, "Sign in again", exc.message, exc.code) from exc
        # A wrong code keeps the enrolment: show the challenge again without a new secret.
        return _renderer(request).page(
            request,
            "mfa.html",
            {
                "enrol": False,
                "csrf_token": viewer.csrf_token,
                "error": exc.message,
                "next_url": next_url,
                "email": viewer.email,
            },
            401,
        )
    session.set_session_cookies(request, session.cookie_policy(services.settings, request), tokens)
    return RedirectResponse(_safe_next(next_url), status_code=303)


@router.post("/logout")
async def logout(request: Request, viewer: ViewerDep) -> Response:
    services = _services(request)
    await checked_form(request, viewer)
    if services.signin is not None and viewer.tokens.refresh_token:
        # The cookies go anyway; if the provider cannot be reached the session ends with its
        # token.
        with contextlib.suppress(SignInError):
            await services.signin.sign_out(viewer.tokens.access_token, viewer.tokens.refresh_token)
    session.clear_session_cookies(request, session.cookie_policy(services.settings, request))
    return RedirectResponse("/login?notice=signed_out", status_code=303)


# -- invitations (local issuer; with Supabase, its own invitation e-mail does this) ---------


async def _invitation(request: Request, token: str) -> str:
    services = _services(request)
    if services.local_issuer is None:
        raise PageError(
            404,
            "Not here",
            "Invitations are sent by Supabase: use the link in its e-mail.",
            ErrorCode.USE_SUPABASE_AUTH,
        )
    async with services.database.transaction(None) as conn:
        found = await local_auth.invitation_email(conn, token_hash(token))
    if found is None:
        raise PageError(
            404,
            "Invitation not valid",
            "This invitation link has expired or was already used: ask for a new one.",
            ErrorCode.INVITATION_INVALID,
        )
    return found[0]


@router.get("/auth/setup")
async def setup_form(request: Request, token: Annotated[str, Query(max_length=200)]) -> Response:
    email = await _invitation(request, token)
    services = _services(request)
    policy = session.cookie_policy(services.settings, request)
    csrf = session.presession_token(request, session.CsrfKeys(services.csrf_key), policy)
    return _renderer(request).page(
        request, "setup.html", {"email": email, "token": token, "csrf_token": csrf, "error": ""}
    )


@router.post("/auth/setup")
async def setup(request: Request) -> Response:
    services = _services(request)
    form = await request.form()
    token = str(form.get("token") or "")[:200]
    email = await _invitation(request, token)
    if not session.presession_ok(
        request, session.CsrfKeys(services.csrf_key), str(form.get(session.CSRF_FIELD) or "")
    ):
        raise PageError(
            403, "Form expired", "Reload the page and try again.", ErrorCode.CSRF_FAILED
        )
    password, again = str(form.get("password") or ""), str(form.get("password_again") or "")
    error = ""
    if len(password) < MIN_PASSWORD or len(password) > 200:
        error = f"Choose a password of at least {MIN_PASSWORD} characters."
    elif password != again:
        error = "The two passwords differ: type the same one twice."
    if error:
        csrf = str(form.get(session.CSRF_FIELD))
        return _renderer(request).page(
            request,
            "setup.html",
            {"email": email, "token": token, "csrf_token": csrf, "error": error},
            422,
        )
    async with services.database.transaction(None) as conn:
        accepted = await local_auth.accept_invitation(
            conn, token_hash(token), hash_password(password)
        )
    if accepted is None:
        raise PageError(
            404,
            "Invitation not valid",
            "This invitation link was just used.",
            ErrorCode.INVITATION_INVALID,
        )
    return RedirectResponse("/login?notice=password_set", status_code=303)
