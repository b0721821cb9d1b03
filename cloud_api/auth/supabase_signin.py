"""Production sign-in through Supabase Auth with supabase-py's Auth client.

One short-lived client per call (no shared session, no background refresh): the cloud serves
many people, and each request carries its own tokens in cookies. Supabase issues and signs
the tokens (verified by cloud_api.auth.users with the project's JWKS) and checks TOTP
factors; a verified factor upgrades the session to `aal2`.
"""

from __future__ import annotations

import contextlib
from typing import Any
from uuid import UUID

import httpx
from supabase_auth import AsyncGoTrueClient
from supabase_auth.errors import AuthApiError, AuthError, AuthRetryableError

from cloud_api.auth import totp
from cloud_api.auth.signin import (
    SESSION_OVER,
    WRONG_CODE,
    WRONG_PASSWORD,
    AuthTokens,
    FactorState,
    SignInError,
)
from contract.errors import ErrorCode

UNAVAILABLE = SignInError(
    ErrorCode.AUTH_UNAVAILABLE, "The sign-in service cannot be reached right now: try again."
)


def _auth_client(project_url: str, key: str, http: httpx.AsyncClient) -> AsyncGoTrueClient:
    # The cloud's own HTTP client (pooled, closed with the app): one per call would leak.
    return AsyncGoTrueClient(
        url=project_url.rstrip("/") + "/auth/v1",
        headers={"apikey": key, "Authorization": f"Bearer {key}"},
        auto_refresh_token=False,
        persist_session=False,
        http_client=http,
    )


class SupabaseSignIn:
    def __init__(self, project_url: str, anon_key: str, http: httpx.AsyncClient) -> None:
        self._url = project_url
        self._key = anon_key
        self._http = http

    def _client(self) -> AsyncGoTrueClient:
        return _auth_client(self._url, self._key, self._http)

    @staticmethod
    def _tokens(session: Any) -> AuthTokens:
        if session is None:
            raise SESSION_OVER
        return AuthTokens(session.access_token, session.refresh_token, int(session.expires_in))

    async def with_password(self, email: str, password: str, source_ip: str) -> AuthTokens:
        try:
            response = await self._client().sign_in_with_password(
                {"email": email, "password": password}
            )
        except AuthRetryableError as exc:
            raise UNAVAILABLE from exc
        except AuthApiError as exc:
            if exc.status == 429:
                raise SignInError(
                    ErrorCode.RATE_LIMITED, "Too many sign-in attempts: wait a minute."
                ) from exc
            raise WRONG_PASSWORD from exc
        except AuthError as exc:
            raise UNAVAILABLE from exc
        return self._tokens(response.session)

    async def refresh(self, refresh_token: str) -> AuthTokens:
        try:
            response = await self._client().refresh_session(refresh_token)
        except AuthRetryableError as exc:
            raise UNAVAILABLE from exc
        except AuthError as exc:
            raise SESSION_OVER from exc
        return self._tokens(response.session)

    async def sign_out(self, access_token: str, refresh_token: str) -> None:
        try:
            await self._client().admin.sign_out(access_token, "local")
        except AuthApiError:
            return  # already signed out or expired: nothing left to revoke
        except AuthError as exc:
            raise UNAVAILABLE from exc

    async def factor_state(self, claims: dict[str, Any], access_token: str) -> FactorState:
        try:
            response = await self._client().get_user(access_token)
        except AuthRetryableError as exc:
            raise UNAVAILABLE from exc
        except AuthError as exc:
            raise SESSION_OVER from exc
        if response is None:
            raise SESSION_OVER
        factors = [f for f in response.user.factors or [] if f.factor_type == "totp"]
        if any(f.status == "verified" for f in factors):
            return FactorState.VERIFIED
        return FactorState.UNVERIFIED if factors else FactorState.NONE

    async def _signed_in(self, tokens: AuthTokens) -> AsyncGoTrueClient:
        client = self._client()
        try:
            await client.set_session(tokens.access_token, tokens.refresh_token)
        except AuthRetryableError as exc:
            raise UNAVAILABLE from exc
        except AuthError as exc:
            raise SESSION_OVER from exc
        return client

    async def enroll(
        self, claims: dict[str, Any], tokens: AuthTokens, email: str
    ) -> totp.Enrollment:
        client = await self._signed_in(tokens)
        try:
            # An unverified factor left from an abandoned enrolment would block a new one.
            listed = await client.mfa.list_factors()
            for factor in listed.all:
                if factor.factor_type == "totp" and factor.status != "verified":
                    await client.mfa.unenroll({"factor_id": factor.id})
            enrolled = await client.mfa.enroll(
                {"factor_type": "totp", "issuer": totp.ISSUER_NAME, "friendly_name": email}
            )
        except AuthRetryableError as exc:
            raise UNAVAILABLE from exc
        except AuthError as exc:
            raise SignInError(ErrorCode.FORBIDDEN, f"Enrolment refused: {exc.message}") from exc
        if enrolled.totp is None:
            raise SignInError(ErrorCode.FORBIDDEN, "Supabase did not return a TOTP secret.")
        return totp.Enrollment(enrolled.id, enrolled.totp.secret, enrolled.totp.uri)

    async def verify(self, claims: dict[str, Any], tokens: AuthTokens, code: str) -> AuthTokens:
        client = await self._signed_in(tokens)
        try:
            listed = await client.mfa.list_factors()
            factors = [f for f in listed.all if f.factor_type == "totp"]
            if not factors:
                raise WRONG_CODE
            verified = await client.mfa.challenge_and_verify(
                {"factor_id": factors[0].id, "code": "".join(code.split())}
            )
        except AuthRetryableError as exc:
            raise UNAVAILABLE from exc
        except AuthError as exc:
            raise WRONG_CODE from exc
        return AuthTokens(verified.access_token, verified.refresh_token, int(verified.expires_in))


async def invite_with_supabase(
    project_url: str, service_role_key: str, email: str, redirect_to: str, http: httpx.AsyncClient
) -> UUID:
    """Supabase sends the invitation e-mail; returns the new auth user's id."""
    admin = _auth_client(project_url, service_role_key, http).admin
    try:
        response = await admin.invite_user_by_email(email, {"redirect_to": redirect_to})
    except AuthRetryableError as exc:
        raise UNAVAILABLE from exc
    except AuthApiError as exc:
        raise SignInError(ErrorCode.ACCOUNT_EXISTS, f"Supabase refused: {exc.message}") from exc
    return UUID(str(response.user.id))


async def forget_supabase_user(
    project_url: str, service_role_key: str, user_id: UUID, http: httpx.AsyncClient
) -> None:
    """Undo an invitation whose dashboard account the database refused."""
    admin = _auth_client(project_url, service_role_key, http).admin
    with contextlib.suppress(AuthError):  # best effort: an unused invitation expires anyway
        await admin.delete_user(str(user_id))
