"""A kiosk's identity: claiming a provisioning code, checking and rotating its credential.

The checks live in `private` definer functions (migration 20261122000400): a claim consumes
the code atomically and limits failed attempts; a credential is checked on every statement
through `private.kiosk_id()`, so a revoked one stops working at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

import psycopg

from cloud_api.db.database import Conn


class ClaimOutcome(StrEnum):
    """What `private.claim_kiosk` answers (its `outcome` column)."""

    CLAIMED = "claimed"
    CODE_INVALID = "code_invalid"
    CODE_EXPIRED = "code_expired"
    CODE_USED = "code_used"
    RATE_LIMITED = "rate_limited"


@dataclass(frozen=True)
class ClaimLimits:
    """Failed attempts allowed within the sliding `window`: per code (and near misses per live
    code), per source, and in total before the circuit refuses sources that have failed."""

    window: timedelta
    per_code: int
    per_source: int
    total: int


@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    retry_after_s: int | None
    kiosk: dict[str, Any] | None
    """When claimed: kiosk_id, kiosk_slug, kiosk_name, gym_id, gym_slug, gym_name, voice,
    language, openai_model."""


async def claim_kiosk(
    conn: Conn,
    *,
    code_hash: str,
    near_hashes: list[str],
    device_id: str,
    hardware_info: dict[str, Any],
    software_version: str | None,
    source_ip: str,
    credential_hash: str,
    limits: ClaimLimits,
) -> Claim:
    """Consume the code, bind the device and store the new credential's hash; or say why not.
    Every attempt is recorded; failures count against the limits (migration
    20261129004200), refusals by a limit do not. `near_hashes`: the hashes of the codes one
    typo away (`provisioning.code.neighbours`); `source_ip`: the caller's limit key."""
    cur = await conn.execute(
        "select * from private.claim_kiosk(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            code_hash,
            near_hashes,
            device_id,
            json.dumps(hardware_info),
            software_version,
            source_ip,
            credential_hash,
            limits.window,
            limits.per_code,
            limits.per_source,
            limits.total,
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    outcome = ClaimOutcome(row["outcome"])
    wait = row["retry_after_s"]
    return Claim(
        outcome,
        int(wait) if wait is not None else None,
        row if outcome is ClaimOutcome.CLAIMED else None,
    )


async def credential_id(conn: Conn, kiosk_id: UUID, credential_hash: str) -> UUID | None:
    """The id of the kiosk's valid credential with this hash (and marks it used), or None."""
    cur = await conn.execute(
        "select private.kiosk_credential_check(%s, %s) as cid", (kiosk_id, credential_hash)
    )
    row = await cur.fetchone()
    return row["cid"] if row else None


async def rotate_credential(
    conn: Conn, new_credential_hash: str, overlap: timedelta
) -> datetime | None:
    """Gives the calling kiosk a new credential; the old one stays valid until the returned
    time. None when the calling kiosk's credential is no longer valid."""
    try:
        cur = await conn.execute(
            "select private.rotate_kiosk_credential(%s, %s) as until",
            (new_credential_hash, overlap),
        )
    except psycopg.errors.InsufficientPrivilege:
        return None
    row = await cur.fetchone()
    assert row is not None
    until: datetime = row["until"]
    return until


async def current_kiosk(conn: Conn) -> UUID | None:
    """The calling kiosk's id while its credential is valid (RLS's own view of it)."""
    cur = await conn.execute("select private.kiosk_id() as id")
    row = await cur.fetchone()
    return row["id"] if row else None
