"""Kiosk management for managers, owners and admins: create, new code, revoke, rotate.

RLS decides who may touch which kiosk: a kiosk the caller cannot manage reads as not found.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from cloud_api.data import kiosks
from cloud_api.data.audit import Actor
from cloud_api.deps import ServicesDep, UserAdmin
from cloud_api.errors import ApiError, error_responses
from contract.errors import ErrorCode
from provisioning.code import display_code

router = APIRouter(prefix="/api/kiosks", tags=["kiosk management"])
ERRORS = error_responses(401, 403, 404, 422, 429)


class KioskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    gym_slug: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    location_in_gym: str | None = Field(default=None, max_length=200)


class ProvisioningCode(BaseModel):
    kiosk_id: UUID
    kiosk_slug: str
    kiosk_name: str
    gym_slug: str
    code: str = Field(description="Six characters; shown once.")
    code_display: str
    expires_at: datetime


class Revoked(BaseModel):
    revoked: int


def _issued(issued: kiosks.IssuedCode) -> ProvisioningCode:
    return ProvisioningCode(
        kiosk_id=issued.kiosk_id,
        kiosk_slug=issued.kiosk_slug,
        kiosk_name=issued.kiosk_name,
        gym_slug=issued.gym_slug,
        code=issued.code,
        code_display=display_code(issued.code),
        expires_at=issued.expires_at,
    )


def _not_found(exc: kiosks.KioskNotFound) -> ApiError:
    return ApiError(ErrorCode.NOT_FOUND, f"{str(exc).capitalize()}.")


@router.post(
    "",
    response_model=ProvisioningCode,
    status_code=201,
    responses=ERRORS,
    summary="Create a kiosk; returns its six-character provisioning code",
)
async def create(body: KioskCreate, user: UserAdmin, services: ServicesDep) -> ProvisioningCode:
    ttl = timedelta(minutes=services.settings.provisioning_code_ttl_min)
    try:
        async with services.database.transaction(user.claims) as conn:
            issued = await kiosks.create_kiosk(
                conn,
                gym_slug=body.gym_slug,
                name=body.name,
                location=body.location_in_gym,
                pepper=services.code_pepper,
                ttl=ttl,
                actor=Actor("user", user.user_id),
            )
    except kiosks.KioskNotFound as exc:
        raise _not_found(exc) from exc
    except kiosks.NotAllowed as exc:
        raise ApiError(ErrorCode.FORBIDDEN, "You cannot add kiosks to this gym.") from exc
    return _issued(issued)


@router.post(
    "/{kiosk_id}/provisioning-code",
    response_model=ProvisioningCode,
    responses=ERRORS,
    summary="Issue a new provisioning code (re-provisioning revokes the old credential)",
)
async def new_code(kiosk_id: UUID, user: UserAdmin, services: ServicesDep) -> ProvisioningCode:
    ttl = timedelta(minutes=services.settings.provisioning_code_ttl_min)
    try:
        async with services.database.transaction(user.claims) as conn:
            issued = await kiosks.regenerate_code(
                conn,
                kiosk_id=kiosk_id,
                pepper=services.code_pepper,
                ttl=ttl,
                actor=Actor("user", user.user_id),
            )
    except kiosks.KioskNotFound as exc:
        raise _not_found(exc) from exc
    return _issued(issued)


@router.post(
    "/{kiosk_id}/revoke",
    response_model=Revoked,
    responses=ERRORS,
    summary="Revoke the kiosk's credentials now",
)
async def revoke(kiosk_id: UUID, user: UserAdmin, services: ServicesDep) -> Revoked:
    try:
        async with services.database.transaction(user.claims) as conn:
            count = await kiosks.revoke_credentials(
                conn, kiosk_id=kiosk_id, actor=Actor("user", user.user_id)
            )
    except kiosks.KioskNotFound as exc:
        raise _not_found(exc) from exc
    return Revoked(revoked=count)


@router.post(
    "/{kiosk_id}/rotate",
    status_code=202,
    responses=ERRORS,
    summary="Ask the kiosk to rotate its credential at its next heartbeat",
)
async def rotate(kiosk_id: UUID, user: UserAdmin, services: ServicesDep) -> dict[str, str]:
    try:
        async with services.database.transaction(user.claims) as conn:
            await kiosks.request_rotation(
                conn, kiosk_id=kiosk_id, actor=Actor("user", user.user_id)
            )
    except kiosks.KioskNotFound as exc:
        raise _not_found(exc) from exc
    return {"status": "requested"}
