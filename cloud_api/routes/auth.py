"""Dashboard sign-in for the embedded default's local issuer, and its public keys."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from cloud_api.auth.signin import AuthTokens, SignIn, SignInError
from cloud_api.deps import ServicesDep, anonymous
from cloud_api.errors import ApiError, error_responses
from cloud_api.services import Services
from contract.errors import ErrorCode

router = APIRouter(tags=["auth"])
LoginLimit = Annotated[str, Depends(anonymous("login"))]


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # A lookup key, not an address to deliver to: any name@domain is looked up (and an
    # account that does not exist is refused like a wrong password).
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@ \t\r\n\x00]+@[^@ \t\r\n\x00]+$")
    password: str = Field(min_length=1, max_length=200)


class LoginResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105
    expires_in: int
    refresh_token: str = Field(description="Rotating; exchange it at POST /auth/refresh.")
    user_id: str


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(min_length=1, max_length=200)


def _local_signin(services: Services) -> SignIn:
    if services.local_issuer is None or services.signin is None:
        raise ApiError(
            ErrorCode.USE_SUPABASE_AUTH, "This cloud uses Supabase Auth: sign in through Supabase."
        )
    return services.signin


async def _answer(services: Services, tokens: AuthTokens) -> LoginResponse:
    claims = await services.user_tokens.verify(tokens.access_token)
    return LoginResponse(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
        user_id=str(claims["sub"]),
    )


@router.post(
    "/auth/login",
    response_model=LoginResponse,
    responses=error_responses(401, 404, 422, 429),
    summary="Sign in with email and password (embedded default only)",
    description="Super admins get a password-only (`aal1`) token: their powers need the "
    "second factor, checked by the dashboard's sign-in pages (/login, then /auth/mfa).",
)
async def login(body: LoginRequest, services: ServicesDep, ip: LoginLimit) -> LoginResponse:
    try:
        tokens = await _local_signin(services).with_password(str(body.email), body.password, ip)
    except SignInError as exc:
        raise ApiError(exc.code, exc.message, headers=exc.headers()) from exc
    return await _answer(services, tokens)


@router.post(
    "/auth/refresh",
    response_model=LoginResponse,
    responses=error_responses(401, 404, 422, 429),
    summary="A new access token for a refresh token (which is rotated)",
)
async def refresh(body: RefreshRequest, services: ServicesDep, ip: LoginLimit) -> LoginResponse:
    try:
        tokens = await _local_signin(services).refresh(body.refresh_token)
    except SignInError as exc:
        raise ApiError(exc.code, exc.message) from exc
    return await _answer(services, tokens)


@router.get("/auth/v1/.well-known/jwks.json", summary="The local issuer's public keys")
async def jwks(services: ServicesDep) -> dict[str, Any]:
    if services.local_issuer is None:
        raise ApiError(ErrorCode.USE_SUPABASE_AUTH, "Keys are published by the Supabase project.")
    return services.local_issuer.jwks()
