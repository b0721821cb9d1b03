"""The browser's side of a sign-in: cookies, who is looking, and CSRF tokens.

Two HTTP-only, SameSite=Lax cookies hold the access token and the refresh token; they are
Secure (and `__Host-` prefixed) when the request came over https or JARVIS_COOKIE_SECURE
says so, and always in production. Plain http://127.0.0.1 in development gets the same
cookies without Secure, because browsers drop Secure cookies set over plain http on some
hosts. An expired access token is refreshed on the fly with the refresh token (rotated).

CSRF: every form carries a token = HMAC(key, the sign-in session's id), checked on every
POST; before sign-in, a random pre-session cookie plays that role (signed double submit).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from starlette.requests import Request

from cloud_api.auth.signin import AuthTokens
from cloud_api.config import CloudSettings

ACCESS = "jarvis-at"
REFRESH = "jarvis-rt"
PRESESSION = "jarvis-pre"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class Viewer:
    """The signed-in person looking at a page: their token's claims decide what RLS shows."""

    user_id: UUID
    email: str
    claims: dict[str, Any]
    tokens: AuthTokens
    csrf_token: str

    @property
    def aal(self) -> str:
        return str(self.claims.get("aal", "aal1"))


@dataclass(frozen=True)
class CookiePolicy:
    secure: bool
    max_age_s: int

    def name(self, base: str) -> str:
        # __Host-: only ever set by this host over https, path /, no Domain attribute.
        return f"__Host-{base}" if self.secure else base

    def header(self, base: str, value: str, *, max_age_s: int | None = None) -> str:
        age = self.max_age_s if max_age_s is None else max_age_s
        parts = [f"{self.name(base)}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
        parts.append(f"Max-Age={age}")
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)

    def clear(self, base: str) -> str:
        return self.header(base, "", max_age_s=0)


def cookie_policy(settings: CloudSettings, request: Request) -> CookiePolicy:
    if settings.cookie_secure is not None:
        secure = settings.cookie_secure
    else:
        secure = settings.environment == "production" or request.url.scheme == "https"
    return CookiePolicy(secure=secure, max_age_s=int(settings.session_ttl_h * 3600))


def read_cookie(request: Request, base: str) -> str | None:
    return request.cookies.get(f"__Host-{base}") or request.cookies.get(base)


def queue_cookie(request: Request, header: str) -> None:
    """A Set-Cookie header for whatever response this request ends with (see middleware)."""
    pending: list[str] = request.scope.setdefault("state", {}).setdefault("jarvis_cookies", [])
    pending.append(header)


def set_session_cookies(request: Request, policy: CookiePolicy, tokens: AuthTokens) -> None:
    queue_cookie(request, policy.header(ACCESS, tokens.access_token))
    if tokens.refresh_token:  # empty: a concurrent request already rotated it
        queue_cookie(request, policy.header(REFRESH, tokens.refresh_token))


def clear_session_cookies(request: Request, policy: CookiePolicy) -> None:
    queue_cookie(request, policy.clear(ACCESS))
    queue_cookie(request, policy.clear(REFRESH))


class CsrfKeys:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, purpose: str, value: str) -> str:
        return hmac.new(self._key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()

    def for_session(self, claims: dict[str, Any]) -> str:
        anchor = str(claims.get("session_id") or f"{claims.get('sub')}:{claims.get('iat')}")
        return self._mac("session", anchor)

    def for_presession(self, value: str) -> str:
        return self._mac("presession", value)

    @staticmethod
    def matches(expected: str, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(expected, given or "")


def presession_token(request: Request, keys: CsrfKeys, policy: CookiePolicy) -> str:
    """The login form's CSRF token, creating the pre-session cookie when missing."""
    value = read_cookie(request, PRESESSION)
    if not value:
        value = secrets.token_urlsafe(24)
        queue_cookie(request, policy.header(PRESESSION, value, max_age_s=3600))
    return keys.for_presession(value)


def presession_ok(request: Request, keys: CsrfKeys, given: str | None) -> bool:
    value = read_cookie(request, PRESESSION)
    return bool(value) and CsrfKeys.matches(keys.for_presession(value or ""), given)


def tokens_from_cookies(request: Request) -> AuthTokens | None:
    access, refresh = read_cookie(request, ACCESS), read_cookie(request, REFRESH)
    if not refresh:
        return None
    return AuthTokens(access or "", refresh, 0)
