"""A kiosk's identity: claiming a provisioning code, exchanging the credential for tokens,
rotating the credential."""

from __future__ import annotations

import json
from datetime import timedelta

import psycopg
from fastapi import APIRouter

from cloud_api.auth.kiosk import credential_hash, mint_token, new_credential
from cloud_api.deps import AnonymousApi, KioskApi, ServicesDep, kiosk_revoked
from cloud_api.errors import ApiError, error_responses
from cloud_api.routes.kiosk.common import ERRORS, kiosk_config
from contract import kiosk_api as api
from provisioning.code import InvalidCode, code_hash

router = APIRouter(tags=["kiosk"])

CLAIM_ERRORS = {
    "code_invalid": (404, "This provisioning code does not exist. Check it, or ask for a new one."),
    "code_expired": (410, "This provisioning code has expired. Ask the gym for a new one."),
    "code_used": (409, "This provisioning code has already been used. Ask the gym for a new one."),
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
    except InvalidCode as exc:
        raise ApiError(422, "code_malformed", f"Invalid provisioning code: {exc}.") from exc
    settings = services.settings
    credential = new_credential()
    async with services.database.transaction(None) as conn:
        cur = await conn.execute(
            "select * from private.claim_kiosk(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                hashed,
                body.device_id,
                json.dumps(body.hardware_info),
                body.software_version,
                ip,
                credential_hash(credential),
                timedelta(minutes=settings.claim_window_min),
                settings.claim_max_failures_per_code,
                settings.claim_max_failures_per_source,
                settings.claim_max_failures_global,
            ),
        )
        row = await cur.fetchone()
    assert row is not None
    outcome = row["outcome"]
    if outcome == "rate_limited":
        wait = int(row["retry_after_s"])
        raise ApiError(
            429,
            "rate_limited",
            f"Too many failed provisioning attempts: wait {wait} s and try again.",
            headers={"Retry-After": str(wait)},
        )
    if outcome != "claimed":
        status, message = CLAIM_ERRORS[outcome]
        raise ApiError(status, outcome, message)
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
        cur = await conn.execute(
            "select private.kiosk_credential_check(%s, %s) as cid",
            (body.kiosk_id, credential_hash(body.credential)),
        )
        row = await cur.fetchone()
    if row is None or row["cid"] is None:
        raise kiosk_revoked()
    ttl = services.settings.kiosk_token_ttl_s
    return api.TokenResponse(
        access_token=mint_token(body.kiosk_id, row["cid"], services.kiosk_token_key, ttl),
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
    try:
        async with services.database.transaction(kiosk.claims) as conn:
            cur = await conn.execute(
                "select private.rotate_kiosk_credential(%s, %s) as until",
                (credential_hash(credential), overlap),
            )
            row = await cur.fetchone()
    except psycopg.errors.InsufficientPrivilege as exc:
        raise kiosk_revoked() from exc
    assert row is not None
    return api.RotateResponse(credential=credential, old_credential_valid_until=row["until"])
