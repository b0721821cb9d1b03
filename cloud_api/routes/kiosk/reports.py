"""What a kiosk reports: heartbeats, session records and events (idempotent uploads)."""

from __future__ import annotations

import logging
from decimal import Decimal
from uuid import UUID

from fastapi import APIRouter, Request

from cloud_api.data import reports
from cloud_api.data.identity import current_kiosk
from cloud_api.data.reports import Stored
from cloud_api.db.database import Conn
from cloud_api.deps import KioskApi, ServicesDep, client_ip, kiosk_revoked
from cloud_api.routes.kiosk.common import ERRORS, kiosk_config
from contract import kiosk_api as api
from contract.pricing import UnknownModel, session_cost

log = logging.getLogger("jarvis.cloud.kiosk")
router = APIRouter(tags=["kiosk"])

# What became of an uploaded record → what the kiosk is told.
UPLOAD_RESULTS: dict[Stored, tuple[api.UploadOutcome, str | None]] = {
    Stored.STORED: (api.UploadOutcome.STORED, None),
    Stored.DUPLICATE: (api.UploadOutcome.DUPLICATE, None),
    Stored.OTHER_KIOSK: (api.UploadOutcome.REJECTED, "this {kind} id belongs to another kiosk"),
    Stored.OTHER_GYM_MEMBER: (
        api.UploadOutcome.REJECTED,
        "the member does not belong to this kiosk's gym",
    ),
    Stored.UNKNOWN_MEMBER: (api.UploadOutcome.REJECTED, "unknown member"),
    Stored.TURN_INDEX_TAKEN: (api.UploadOutcome.REJECTED, "two turns share an index"),
}


def _result(record_id: UUID, stored: Stored, kind: str) -> api.UploadResult:
    outcome, message = UPLOAD_RESULTS[stored]
    return api.UploadResult(
        id=record_id, outcome=outcome, message=message and message.format(kind=kind)
    )


@router.post(
    api.HEARTBEAT,
    response_model=api.HeartbeatResponse,
    responses=ERRORS,
    summary="Report health; get the desired config and pending commands",
)
async def heartbeat(
    body: api.HeartbeatRequest, kiosk: KioskApi, services: ServicesDep, request: Request
) -> api.HeartbeatResponse:
    # A heartbeat is superseded 30 s later: it need not wait for its WAL flush.
    async with services.database.transaction(kiosk.claims, durable=False) as conn:
        row = await reports.store_heartbeat(conn, body, client_ip(request))
    if row is None:
        raise kiosk_revoked()
    return api.HeartbeatResponse(
        config=kiosk_config(row),
        commands=[api.KioskCommand(kind=c["kind"], reason=c["reason"]) for c in row["commands"]],
        server_time=row["server_time"],
    )


async def _store_session(conn: Conn, record: api.SessionRecord) -> api.UploadResult:
    errors = list(record.errors)
    try:
        cost = session_cost(record.model, record.usage)
    except UnknownModel as exc:
        cost = Decimal(0)
        errors.append(f"cloud: {exc}; cost recorded as 0")
        log.warning("session %s: %s", record.id, exc)
    if record.ended_at < record.started_at:
        return api.UploadResult(
            id=record.id,
            outcome=api.UploadOutcome.REJECTED,
            message="ended_at is before started_at",
        )
    stored = await reports.store_session(conn, record, cost=cost, errors=errors)
    return _result(record.id, stored, "session")


@router.post(
    api.SESSIONS,
    response_model=api.BatchResult,
    responses=ERRORS,
    summary="Store session records (idempotent on the kiosk-made id)",
)
async def sessions(
    body: api.SessionBatch, kiosk: KioskApi, services: ServicesDep
) -> api.BatchResult:
    async with services.database.transaction(kiosk.claims) as conn:
        if await current_kiosk(conn) is None:
            raise kiosk_revoked()
        results = [await _store_session(conn, record) for record in body.sessions]
    return api.BatchResult(results=results)


@router.post(
    api.EVENTS,
    response_model=api.BatchResult,
    responses=ERRORS,
    summary="Store kiosk events (idempotent on the kiosk-made id)",
)
async def events(body: api.EventBatch, kiosk: KioskApi, services: ServicesDep) -> api.BatchResult:
    async with services.database.transaction(kiosk.claims) as conn:
        if await current_kiosk(conn) is None:
            raise kiosk_revoked()
        results = [
            _result(event.id, await reports.store_event(conn, event), "event")
            for event in body.events
        ]
    return api.BatchResult(results=results)
