"""Dashboard sign-in for the embedded default's local issuer, and its public keys."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from cloud_api.data import users
from cloud_api.deps import ServicesDep, anonymous
from cloud_api.errors import ApiError, error_responses
from cloud_api.passwords import verify_password
from contract.errors import ErrorCode

router = APIRouter(tags=["auth"])
LoginLimit = Annotated[str, Depends(anonymous("login"))]


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailStr
    password: str = Field(min_length=1, max_length=200)


class LoginResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105
    expires_in: int
    user_id: str


@router.post(
    "/auth/login",
    response_model=LoginResponse,
    responses=error_responses(401, 404, 422, 429),
    summary="Sign in with email and password (embedded default only)",
)
async def login(body: LoginRequest, services: ServicesDep, ip: LoginLimit) -> LoginResponse:
    issuer = services.local_issuer
    if issuer is None:
        raise ApiError(
            ErrorCode.USE_SUPABASE_AUTH, "This cloud uses Supabase Auth: sign in through Supabase."
        )
    async with services.database.transaction(None) as conn:
        account = await users.login_account(conn, body.email)
        ok = bool(
            account
            and account.is_active
            and account.password_hash
            and verify_password(account.password_hash, body.password)
        )
        await users.record_login(conn, account.user_id if account else None, body.email, ok, ip)
    if not ok or account is None:
        raise ApiError(ErrorCode.INVALID_CREDENTIALS, "Wrong email or password.")
    return LoginResponse(
        access_token=issuer.mint(account.user_id, body.email),
        expires_in=issuer.ttl_s,
        user_id=str(account.user_id),
    )


@router.get("/auth/v1/.well-known/jwks.json", summary="The local issuer's public keys")
async def jwks(services: ServicesDep) -> dict[str, Any]:
    if services.local_issuer is None:
        raise ApiError(ErrorCode.USE_SUPABASE_AUTH, "Keys are published by the Supabase project.")
    return services.local_issuer.jwks()
