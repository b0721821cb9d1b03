"""A small Supabase Auth (GoTrue) on 127.0.0.1 for the production sign-in path's tests.

It speaks the endpoints supabase-py's Auth client calls — password and refresh grants, the
current user, TOTP factors (enrol, challenge, verify, unenrol), sign-out, the JWKS — and
signs ES256 access tokens shaped like Supabase's (`iss` = <url>/auth/v1, `aud`, `role`,
`aal`, `session_id`). Only what the dashboard uses; no e-mail, no phone.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
import pyotp
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

KID = "fake-gotrue-key"


@dataclass
class Account:
    id: uuid.UUID
    email: str
    password: str
    factor: dict[str, Any] | None = None  # {"id", "secret", "status"}


@dataclass
class FakeGoTrue:
    base_url: str = ""
    accounts: dict[str, Account] = field(default_factory=dict)
    refresh: dict[str, tuple[uuid.UUID, str, str]] = field(
        default_factory=dict
    )  # → user, aal, session
    logouts: int = 0

    def __post_init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())

    def add(self, email: str, password: str, user_id: uuid.UUID) -> None:
        self.accounts[email] = Account(user_id, email, password)

    # -- tokens ------------------------------------------------------------------------------

    def _by_id(self, user_id: uuid.UUID) -> Account:
        return next(a for a in self.accounts.values() if a.id == user_id)

    def _user(self, account: Account) -> dict[str, Any]:
        now = "2026-01-01T00:00:00Z"
        factors = []
        if account.factor:
            factors.append(
                {
                    "id": account.factor["id"],
                    "friendly_name": account.email,
                    "factor_type": "totp",
                    "status": account.factor["status"],
                    "created_at": now,
                    "updated_at": now,
                }
            )
        return {
            "id": str(account.id),
            "aud": "authenticated",
            "role": "authenticated",
            "email": account.email,
            "app_metadata": {"provider": "email"},
            "user_metadata": {},
            "created_at": now,
            "factors": factors,
        }

    def _session(self, account: Account, aal: str, session_id: str) -> dict[str, Any]:
        now = int(time.time())
        access = jwt.encode(
            {
                "iss": f"{self.base_url}/auth/v1",
                "aud": "authenticated",
                "sub": str(account.id),
                "email": account.email,
                "role": "authenticated",
                "aal": aal,
                "session_id": session_id,
                "iat": now,
                "exp": now + 3600,
            },
            self.key,
            algorithm="ES256",
            headers={"kid": KID},
        )
        refresh = secrets.token_urlsafe(16)
        self.refresh[refresh] = (account.id, aal, session_id)
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": 3600,
            "expires_at": now + 3600,
            "refresh_token": refresh,
            "user": self._user(account),
        }

    def _caller(self, request: Request) -> tuple[Account, dict[str, Any]]:
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        claims = jwt.decode(
            token, self.key.public_key(), algorithms=["ES256"], audience="authenticated"
        )
        return self._by_id(uuid.UUID(claims["sub"])), claims

    # -- endpoints ---------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        body = await request.json()
        grant = request.query_params.get("grant_type")
        if grant == "password":
            account = self.accounts.get(body.get("email", ""))
            if account is None or account.password != body.get("password"):
                return _error(400, "invalid_credentials", "Invalid login credentials")
            return JSONResponse(self._session(account, "aal1", uuid.uuid4().hex))
        if grant == "refresh_token":
            found = self.refresh.pop(body.get("refresh_token", ""), None)
            if found is None:
                return _error(400, "refresh_token_not_found", "Invalid Refresh Token")
            user_id, aal, session_id = found
            return JSONResponse(self._session(self._by_id(user_id), aal, session_id))
        return _error(400, "unsupported_grant_type", "unsupported grant")

    async def user(self, request: Request) -> Response:
        account, _ = self._caller(request)
        return JSONResponse(self._user(account))

    async def factors(self, request: Request) -> Response:
        account, _ = self._caller(request)
        secret = pyotp.random_base32()
        account.factor = {"id": uuid.uuid4().hex, "secret": secret, "status": "unverified"}
        uri = pyotp.TOTP(secret).provisioning_uri(name=account.email, issuer_name="JARVIS")
        return JSONResponse(
            {
                "id": account.factor["id"],
                "type": "totp",
                "friendly_name": account.email,
                "totp": {"qr_code": "<svg/>", "secret": secret, "uri": uri},
            }
        )

    async def factor(self, request: Request) -> Response:
        account, claims = self._caller(request)
        factor_id, action = request.path_params["factor_id"], request.path_params.get("action")
        if account.factor is None or account.factor["id"] != factor_id:
            return _error(404, "mfa_factor_not_found", "no such factor")
        if request.method == "DELETE":
            account.factor = None
            return JSONResponse({"id": factor_id})
        if action == "challenge":
            return JSONResponse({"id": uuid.uuid4().hex, "expires_at": int(time.time()) + 300})
        body = await request.json()
        if not pyotp.TOTP(account.factor["secret"]).verify(body.get("code", ""), valid_window=1):
            return _error(422, "mfa_verification_failed", "Invalid TOTP code entered")
        account.factor["status"] = "verified"
        return JSONResponse(self._session(account, "aal2", claims["session_id"]))

    async def logout(self, request: Request) -> Response:
        _, claims = self._caller(request)
        self.refresh = {k: v for k, v in self.refresh.items() if v[2] != claims["session_id"]}
        self.logouts += 1
        return Response(status_code=204)

    async def jwks(self, _: Request) -> Response:
        public = jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return JSONResponse({"keys": [{**public, "kid": KID, "alg": "ES256", "use": "sig"}]})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/auth/v1/token", self.token, methods=["POST"]),
                Route("/auth/v1/user", self.user, methods=["GET"]),
                Route("/auth/v1/factors", self.factors, methods=["POST"]),
                Route("/auth/v1/factors/{factor_id}", self.factor, methods=["DELETE"]),
                Route("/auth/v1/factors/{factor_id}/{action}", self.factor, methods=["POST"]),
                Route("/auth/v1/logout", self.logout, methods=["POST"]),
                Route("/auth/v1/.well-known/jwks.json", self.jwks, methods=["GET"]),
            ]
        )


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": status, "error_code": code, "msg": message}, status_code=status)
