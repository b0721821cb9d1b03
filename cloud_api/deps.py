"""Request dependencies: who is calling (kiosk, user, anonymous) and their rate limit.

They only establish identity; what the caller may touch is decided by row-level security in
the transaction run under the caller's claims.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request, Response

from cloud_api.auth.kiosk import KioskTokenError, verify_token
from cloud_api.auth.users import UserTokenError
from cloud_api.errors import ApiError
from cloud_api.ratelimit import caller_key_for_address
from cloud_api.services import Services
from contract.errors import ErrorCode


async def get_services(request: Request) -> Services:
    # async on purpose: FastAPI runs plain `def` dependencies in a thread pool, a thread hop
    # on every request.
    return _services(request)


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            ErrorCode.MISSING_TOKEN,
            "This endpoint needs `Authorization: Bearer <token>`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


def _apply_limit(services: Services, response: Response, bucket: str, caller: str) -> None:
    # Settled by the request's first transaction, in the round trip that opens it
    # (cloud_api/ratelimit.py): over the limit, that transaction answers 429 at once.
    services.rate_limiter.stage(bucket, caller, response.headers)


@dataclass(frozen=True)
class KioskCaller:
    kiosk_id: UUID
    claims: dict[str, Any]


@dataclass(frozen=True)
class UserCaller:
    user_id: UUID
    claims: dict[str, Any]


def kiosk_caller(bucket: str) -> Callable[[Request, Response], Awaitable[KioskCaller]]:
    async def dependency(request: Request, response: Response) -> KioskCaller:
        services = _services(request)
        token = _bearer(request)
        try:
            claims = verify_token(token, services.kiosk_token_key)
        except KioskTokenError as exc:
            raise ApiError(exc.code, str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc
        _apply_limit(services, response, bucket, f"kiosk:{claims['sub']}")
        return KioskCaller(UUID(claims["sub"]), claims)

    return dependency


def user_caller(bucket: str) -> Callable[[Request, Response], Awaitable[UserCaller]]:
    async def dependency(request: Request, response: Response) -> UserCaller:
        services = _services(request)
        token = _bearer(request)
        try:
            claims = await services.user_tokens.verify(token)
        except UserTokenError as exc:
            raise ApiError(exc.code, str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc
        try:
            user_id = UUID(str(claims["sub"]))
        except ValueError as exc:
            raise ApiError(
                ErrorCode.INVALID_TOKEN, "The access token's subject is not a user id."
            ) from exc
        _apply_limit(services, response, bucket, f"user:{user_id}")
        return UserCaller(user_id, claims)

    return dependency


def anonymous(bucket: str) -> Callable[[Request, Response], Awaitable[str]]:
    async def dependency(request: Request, response: Response) -> str:
        ip = client_ip(request)
        _apply_limit(_services(request), response, bucket, f"ip:{caller_key_for_address(ip)}")
        return ip

    return dependency


KioskApi = Annotated[KioskCaller, Depends(kiosk_caller("api"))]
KioskVoice = Annotated[KioskCaller, Depends(kiosk_caller("voice"))]
UserAdmin = Annotated[UserCaller, Depends(user_caller("admin"))]
AnonymousApi = Annotated[str, Depends(anonymous("api"))]


def kiosk_revoked() -> ApiError:
    return ApiError(
        ErrorCode.CREDENTIAL_REVOKED,
        "This kiosk's credential is no longer valid (revoked or re-provisioned): provision the "
        "kiosk again with a new code.",
        headers={"WWW-Authenticate": "Bearer"},
    )
