"""A kiosk's identity: claiming a provisioning code, exchanging the credential for tokens,
rotating the credential."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from cloud_api.auth.kiosk import credential_hash, mint_token, new_credential
from cloud_api.data import identity
from cloud_api.data.identity import ClaimOutcome
from cloud_api.deps import AnonymousApi, KioskApi, ServicesDep, kiosk_revoked
from cloud_api.errors import ApiError, error_responses
from cloud_api.ratelimit import caller_key_for_address
from cloud_api.routes.kiosk.common import ERRORS, kiosk_config
from contract import kiosk_api as api
from contract.errors import ErrorCode
from provisioning.code import InvalidCode, code_hash, neighbours

router = APIRouter(tags=["kiosk"])

# Why a claim was refused (what the database answered) → what the installer is told.
CLAIM_REFUSALS: dict[ClaimOutcome, tuple[ErrorCode, str]] = {
    ClaimOutcome.CODE_INVALID: (
        ErrorCode.CODE_INVALID,
        "This provisioning code does not exist. Check it, or ask for a new one.",
    ),
    ClaimOutcome.CODE_EXPIRED: (
        ErrorCode.CODE_EXPIRED,
        "This provisioning code has expired. Ask the gym for a new one.",
    ),
    ClaimOutcome.CODE_USED: (
        ErrorCode.CODE_USED,
        "This provisioning code has already been used. Ask the gym for a new one.",
    ),
}


@router.post(
    api.PROVISION_CLAIM,
    response_model=api.ClaimResponse,
    status_code=201,
    responses=error_responses(404, 409, 410, 422, 429),
    summary="Claim a provisioning code: bind this device and get its credential",
)
async def claim(
    body: api.ClaimRequest, services: ServicesDep, ip: AnonymousApi
) -> api.ClaimResponse:
    try:
        hashed = code_hash(body.code, services.code_pepper)
        near = [code_hash(n, services.code_pepper) for n in neighbours(body.code)]
    except InvalidCode as exc:
        raise ApiError(ErrorCode.CODE_MALFORMED, f"Invalid provisioning code: {exc}.") from exc
    settings = services.settings
    credential = new_credential()
    async with services.database.transaction(None) as conn:
        claimed = await identity.claim_kiosk(
            conn,
            code_hash=hashed,
            near_hashes=near,
            device_id=body.device_id,
            hardware_info=body.hardware_info,
            software_version=body.software_version,
            source_ip=caller_key_for_address(ip),
            credential_hash=credential_hash(credential),
            limits=identity.ClaimLimits(
                window=timedelta(minutes=settings.claim_window_min),
                per_code=settings.claim_max_failures_per_code,
                per_source=settings.claim_max_failures_per_source,
                total=settings.claim_max_failures_global,
            ),
        )
    if claimed.outcome is ClaimOutcome.RATE_LIMITED:
        wait = claimed.retry_after_s or 1
        raise ApiError(
            ErrorCode.RATE_LIMITED,
            f"Too many failed provisioning attempts: wait {wait} s and try again.",
            headers={"Retry-After": str(wait)},
        )
    if claimed.kiosk is None:
        code, message = CLAIM_REFUSALS[claimed.outcome]
        raise ApiError(code, message)
    row = claimed.kiosk
    return api.ClaimResponse(
        kiosk_id=row["kiosk_id"],
        kiosk_slug=row["kiosk_slug"],
        kiosk_name=row["kiosk_name"],
        gym_id=row["gym_id"],
        gym_slug=row["gym_slug"],
        gym_name=row["gym_name"],
        credential=credential,
        config=kiosk_config(row),
    )


@router.post(
    api.TOKEN,
    response_model=api.TokenResponse,
    responses=ERRORS,
    summary="Exchange the kiosk's credential for a short-lived token",
)
async def token(
    body: api.TokenRequest, services: ServicesDep, _ip: AnonymousApi
) -> api.TokenResponse:
    async with services.database.transaction(None) as conn:
        cid = await identity.credential_id(conn, body.kiosk_id, credential_hash(body.credential))
    if cid is None:
        raise kiosk_revoked()
    ttl = services.settings.kiosk_token_ttl_s
    return api.TokenResponse(
        access_token=mint_token(body.kiosk_id, cid, services.kiosk_token_key, ttl),
        expires_in=ttl,
    )


@router.post(
    api.CREDENTIAL_ROTATE,
    response_model=api.RotateResponse,
    responses=ERRORS,
    summary="Rotate the kiosk's credential (the old one works for an overlap window)",
)
async def rotate(kiosk: KioskApi, services: ServicesDep) -> api.RotateResponse:
    credential = new_credential()
    overlap = timedelta(hours=services.settings.credential_overlap_h)
    async with services.database.transaction(kiosk.claims) as conn:
        until = await identity.rotate_credential(conn, credential_hash(credential), overlap)
        if until is None:
            raise kiosk_revoked()
    return api.RotateResponse(credential=credential, old_credential_valid_until=until)
