"""Any sign-in provider behind the per-account limit on failed passwords.

`max_failures` wrong passwords for one email within the window, from any addresses, lock that
email's password sign-in for a minute, doubling per lockout up to 15 minutes (defaults; see
`cloud_api.data.sign_in_limits` and migration 20261129004300). Designed so that an attacker
cannot keep the owner out:

* the limit is on password attempts only (a session's refresh is never held);
* a locked attempt is refused before its password is checked and is not counted, so
  obeying `Retry-After` (the lock's end, exact) always gets a password checked;
* an address that signed in to the account within `JARVIS_SIGNIN_TRUSTED_SOURCE_DAYS` is
  not held at all: the owner at a usual place signs in during an attack.

Unknown emails are limited exactly like known ones: the lockout reveals no account. The
address's own limit (`login`, 10/min) still applies before this one.
"""

from __future__ import annotations

from typing import Any

from cloud_api.auth import totp
from cloud_api.auth.signin import AuthTokens, FactorState, SignIn, SignInError
from cloud_api.data import sign_in_limits
from cloud_api.db.database import Database
from cloud_api.ratelimit import caller_key_for_address
from contract.errors import ErrorCode


class LockoutSignIn:
    """A `SignIn` whose password check is guarded by the per-account failure limit."""

    def __init__(self, inner: SignIn, database: Database, policy: sign_in_limits.Policy) -> None:
        self._inner = inner
        self._db = database
        self._policy = policy

    async def with_password(self, email: str, password: str, source_ip: str) -> AuthTokens:
        source = caller_key_for_address(source_ip)
        async with self._db.login_role_transaction() as conn:
            wait = await sign_in_limits.wait_s(conn, email, source, self._policy)
        if wait:
            raise SignInError(
                ErrorCode.ACCOUNT_LOCKED,
                f"Too many failed sign-ins for this account: wait {wait} seconds, then try "
                "again (or sign in from a place where you have signed in before).",
                retry_after_s=wait,
            )
        try:
            tokens = await self._inner.with_password(email, password, source_ip)
        except SignInError as exc:
            if exc.code is ErrorCode.INVALID_CREDENTIALS:
                async with self._db.login_role_transaction() as conn:
                    await sign_in_limits.record(conn, email, source, False, self._policy)
            raise
        async with self._db.login_role_transaction() as conn:
            await sign_in_limits.record(conn, email, source, True, self._policy)
        return tokens

    async def refresh(self, refresh_token: str) -> AuthTokens:
        return await self._inner.refresh(refresh_token)

    async def sign_out(self, access_token: str, refresh_token: str) -> None:
        await self._inner.sign_out(access_token, refresh_token)

    async def factor_state(self, claims: dict[str, Any], access_token: str) -> FactorState:
        return await self._inner.factor_state(claims, access_token)

    async def enroll(
        self, claims: dict[str, Any], tokens: AuthTokens, email: str
    ) -> totp.Enrollment:
        return await self._inner.enroll(claims, tokens, email)

    async def verify(self, claims: dict[str, Any], tokens: AuthTokens, code: str) -> AuthTokens:
        return await self._inner.verify(claims, tokens, code)
