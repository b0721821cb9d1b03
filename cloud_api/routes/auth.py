"""Dashboard sign-in for the embedded default's local issuer, and its public keys."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from cloud_api.deps import ServicesDep, anonymous
from cloud_api.errors import ApiError, error_responses
from cloud_api.passwords import verify_password

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
            404, "use_supabase_auth", "This cloud uses Supabase Auth: sign in through Supabase."
        )
    refused = ApiError(401, "invalid_credentials", "Wrong email or password.")
    async with services.database.transaction(None) as conn:
        cur = await conn.execute("select * from private.local_login_lookup(%s)", (body.email,))
        row = await cur.fetchone()
        ok = bool(
            row
            and row["is_active"]
            and row["password_hash"]
            and verify_password(row["password_hash"], body.password)
        )
        await conn.execute(
            "select private.local_login_record(%s, %s, %s, %s)",
            (row["user_id"] if row else None, body.email, ok, ip),
        )
    if not ok or row is None:
        raise refused
    return LoginResponse(
        access_token=issuer.mint(row["user_id"], body.email),
        expires_in=issuer.ttl_s,
        user_id=str(row["user_id"]),
    )


@router.get("/auth/v1/.well-known/jwks.json", summary="The local issuer's public keys")
async def jwks(services: ServicesDep) -> dict[str, Any]:
    if services.local_issuer is None:
        raise ApiError(404, "use_supabase_auth", "Keys are published by the Supabase project.")
    return services.local_issuer.jwks()
