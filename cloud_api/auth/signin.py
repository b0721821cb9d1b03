"""Signing people in to the dashboard: one interface, two providers.

* :class:`LocalSignIn` — the embedded default: Argon2id passwords in `auth.users`, ES256
  access tokens from the cloud's own issuer, rotating refresh tokens, TOTP second factors
  (pyotp) sealed at rest, and `aal2` tokens once the second factor is checked.
* `SupabaseSignIn` (cloud_api.auth.supabase_signin) — production: the same calls through
  supabase-py's Auth client; Supabase issues the tokens and checks the factors.

The web layer only ever talks to :class:`SignIn`; what a token lets its holder see is decided
by row-level security (super admins need `aal2`: migration 20261129003000).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

from cloud_api.auth import totp
from cloud_api.auth.users import LocalIssuer
from cloud_api.data import local_auth, users
from cloud_api.db.database import Database
from cloud_api.passwords import verify_password_or_dummy
from contract.errors import ErrorCode


@dataclass(frozen=True)
class AuthTokens:
    access_token: str
    refresh_token: str  # "" when the refresh kept the current one (see LocalSignIn.refresh)
    expires_in: int


class FactorState(StrEnum):
    NONE = "none"  # no second factor: enrol one (required for super admins)
    UNVERIFIED = "unverified"  # enrolment started, never confirmed with a code
    VERIFIED = "verified"  # ask for a code at every sign-in


class SignInError(Exception):
    """A refusal a person can act on; `code` is an ErrorCode, `retry_after_s` when waiting
    is what it takes."""

    def __init__(self, code: ErrorCode, message: str, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after_s)} if self.retry_after_s else None


WRONG_PASSWORD = SignInError(ErrorCode.INVALID_CREDENTIALS, "Wrong email or password.")
SESSION_OVER = SignInError(ErrorCode.TOKEN_EXPIRED, "Your session has ended: sign in again.")
WRONG_CODE = SignInError(
    ErrorCode.MFA_CODE_INVALID,
    "That code is not right (or was already used): type the current 6-digit code from your "
    "authenticator app.",
)


class SignIn(Protocol):
    async def with_password(self, email: str, password: str, source_ip: str) -> AuthTokens: ...

    async def refresh(self, refresh_token: str) -> AuthTokens: ...

    async def sign_out(self, access_token: str, refresh_token: str) -> None: ...

    async def factor_state(self, claims: dict[str, Any], access_token: str) -> FactorState: ...

    async def enroll(
        self, claims: dict[str, Any], tokens: AuthTokens, email: str
    ) -> totp.Enrollment: ...

    async def verify(self, claims: dict[str, Any], tokens: AuthTokens, code: str) -> AuthTokens: ...


def token_hash(token: str) -> str:
    """SHA-256 (hex) of a high-entropy token: what is stored instead of it."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_refresh_token() -> str:
    return "jrt_" + secrets.token_urlsafe(32)


class LocalSignIn:
    """The embedded default's sign-in, over the database and the local issuer."""

    def __init__(
        self,
        database: Database,
        issuer: LocalIssuer,
        sealer: totp.SecretSealer,
        *,
        session_ttl: timedelta,
    ) -> None:
        self._db = database
        self._issuer = issuer
        self._sealer = sealer
        self._session_ttl = session_ttl
        verify_password_or_dummy(None, "")  # makes the dummy hash now, not on a first sign-in

    def _tokens(self, user_id: UUID, email: str, aal: str, session: UUID, rt: str) -> AuthTokens:
        access = self._issuer.mint(user_id, email, aal=aal, session_id=session)
        return AuthTokens(access, rt, self._issuer.ttl_s)

    async def with_password(self, email: str, password: str, source_ip: str) -> AuthTokens:
        async with self._db.transaction(None) as conn:
            account = await users.login_account(conn, email)
        # Argon2 takes a core for ~0.1 s: off the event loop. Every attempt pays it, an
        # unknown email included (against a dummy hash), so timing says nothing about which
        # emails have an account.
        matches = await asyncio.to_thread(
            verify_password_or_dummy, account.password_hash if account else None, password
        )
        ok = bool(matches and account and account.is_active and account.password_hash)
        rt = new_refresh_token()
        session_id = None
        async with self._db.transaction(None) as conn:
            await users.record_login(
                conn, account.user_id if account else None, email, ok, source_ip
            )
            if ok and account is not None:
                session_id = await local_auth.start_session(
                    conn, account.user_id, token_hash(rt), self._session_ttl
                )
        if account is None or session_id is None:
            raise WRONG_PASSWORD  # the failed attempt is recorded (committed)
        return self._tokens(account.user_id, email.lower(), "aal1", session_id, rt)

    async def refresh(self, refresh_token: str) -> AuthTokens:
        rt = new_refresh_token()
        async with self._db.transaction(None) as conn:
            owner = await local_auth.rotate_session(
                conn, token_hash(refresh_token), token_hash(rt), self._session_ttl
            )
        if owner is None:
            raise SESSION_OVER
        return self._tokens(
            owner.user_id, owner.email, owner.aal, owner.session_id, rt if owner.rotated else ""
        )

    async def sign_out(self, access_token: str, refresh_token: str) -> None:
        async with self._db.transaction(None) as conn:
            await local_auth.end_session(conn, token_hash(refresh_token))

    async def factor_state(self, claims: dict[str, Any], access_token: str) -> FactorState:
        async with self._db.transaction(claims) as conn:
            factor = await local_auth.my_factor(conn)
        if factor is None:
            return FactorState.NONE
        return FactorState.VERIFIED if factor.verified else FactorState.UNVERIFIED

    async def enroll(
        self, claims: dict[str, Any], tokens: AuthTokens, email: str
    ) -> totp.Enrollment:
        secret = totp.new_secret()
        async with self._db.transaction(claims) as conn:
            factor_id = await local_auth.enroll_factor(conn, self._sealer.seal(secret))
        return totp.Enrollment(str(factor_id), secret, totp.provisioning_uri(secret, email))

    async def verify(self, claims: dict[str, Any], tokens: AuthTokens, code: str) -> AuthTokens:
        session_id = UUID(str(claims.get("session_id")))
        async with self._db.transaction(claims) as conn:
            factor = await local_auth.my_factor(conn)
            if factor is None:
                raise WRONG_CODE
            step = totp.accepted_step(
                self._sealer.unseal(factor.secret_sealed), code, after_step=factor.last_step
            )
            if step is None or not await local_auth.accept_factor_step(
                conn, factor.factor_id, step, session_id
            ):
                raise WRONG_CODE
        # The session is aal2 now: the refresh mints the aal2 token (and rotates the refresh
        # token, so a token stolen before the second factor cannot be upgraded).
        return await self.refresh(tokens.refresh_token)


def new_invitation_token() -> str:
    return "jiv_" + secrets.token_urlsafe(32)
