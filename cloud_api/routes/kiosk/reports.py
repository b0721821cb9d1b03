"""What a kiosk reports: heartbeats, session records and events (idempotent uploads)."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import psycopg
from fastapi import APIRouter, Request

from cloud_api.deps import KioskApi, ServicesDep, client_ip, kiosk_revoked
from cloud_api.routes.kiosk.common import ERRORS, Conn, current_kiosk, kiosk_config
from contract import kiosk_api as api
from contract.pricing import UnknownModel, session_cost

log = logging.getLogger("jarvis.cloud.kiosk")
router = APIRouter(tags=["kiosk"])


HEARTBEAT_SQL = """
with k as (
    select id, gym_id, voice_model as voice, language, openai_model
    from kiosks where id = (select private.kiosk_id())
), stored as (
    insert into kiosk_heartbeats (kiosk_id, gym_id, status, software_version, ip, cpu_percent,
        cpu_temp_c, memory_percent, disk_percent, mic_ok, reader_ok, network_ok, outbox_depth,
        last_error, health)
    select k.id, k.gym_id, %(status)s, %(version)s, %(ip)s, %(cpu)s, %(temp)s, %(mem)s,
        %(disk)s, %(mic)s, %(reader)s, %(net)s, %(depth)s, %(error)s, %(health)s
    from k
    returning id
)
select k.*, (select count(*) from stored) as stored,
    coalesce((select json_agg(json_build_object('kind', c.kind, 'reason', c.reason))
              from kiosk_commands c where c.kiosk_id = k.id and c.completed_at is null),
             '[]'::json) as commands,
    now() as server_time
from k
"""


@router.post(
    api.HEARTBEAT,
    response_model=api.HeartbeatResponse,
    responses=ERRORS,
    summary="Report health; get the desired config and pending commands",
)
async def heartbeat(
    body: api.HeartbeatRequest, kiosk: KioskApi, services: ServicesDep, request: Request
) -> api.HeartbeatResponse:
    h = body.health
    params = {
        "status": body.status.value,
        "version": body.software_version,
        "ip": client_ip(request),
        "cpu": h.cpu_percent,
        "temp": h.cpu_temp_c,
        "mem": h.memory_percent,
        "disk": h.disk_percent,
        "mic": h.mic_ok,
        "reader": h.reader_ok,
        "net": h.network_ok,
        "depth": body.outbox_depth,
        "error": body.last_error,
        "health": h.model_dump_json(),
    }
    # A heartbeat is superseded 30 s later: it need not wait for its WAL flush.
    async with services.database.transaction(kiosk.claims, durable=False) as conn:
        cur = await conn.execute(HEARTBEAT_SQL, params)
        row = await cur.fetchone()
    if row is None:
        raise kiosk_revoked()
    return api.HeartbeatResponse(
        config=kiosk_config(row),
        commands=[api.KioskCommand(kind=c["kind"], reason=c["reason"]) for c in row["commands"]],
        server_time=row["server_time"],
    )


INSERT_SESSION = """
insert into realtime_sessions (id, gym_id, kiosk_id, member_id, started_at, ended_at, status,
    end_reason, model, voice, language, input_text_tokens, input_audio_tokens,
    input_cached_tokens, output_text_tokens, output_audio_tokens, transcription_tokens, cost_usd,
    turn_count, first_response_ms, avg_response_ms, p95_response_ms, avg_playback_ms,
    tool_calls, errors)
values (%(id)s, (select private.kiosk_gym_id()), (select private.kiosk_id()), %(member_id)s,
    %(started_at)s, %(ended_at)s, 'closed', %(end_reason)s, %(model)s, %(voice)s, %(language)s,
    %(input_text_tokens)s, %(input_audio_tokens)s, %(input_cached_tokens)s,
    %(output_text_tokens)s, %(output_audio_tokens)s, %(transcription_tokens)s, %(cost)s,
    %(turn_count)s, %(first_response_ms)s, %(avg_response_ms)s, %(p95_response_ms)s,
    %(avg_playback_ms)s, %(tool_calls)s, %(errors)s)
on conflict (id) do nothing
returning gym_id
"""


async def _store_session(conn: Conn, record: api.SessionRecord) -> api.UploadResult:
    errors = list(record.errors)
    try:
        cost = session_cost(record.model, record.usage, record.transcription)
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
    params = {
        "id": record.id,
        "member_id": record.member_id,
        "started_at": record.started_at,
        "ended_at": record.ended_at,
        "end_reason": record.end_reason.value,
        "model": record.model,
        "voice": record.voice,
        "language": record.language,
        **record.usage.model_dump(),
        "transcription_tokens": record.transcription_tokens,
        "cost": cost,
        "turn_count": len(record.turns),
        **record.latency.model_dump(),
        "tool_calls": json.dumps([t.model_dump(mode="json") for t in record.tool_calls]),
        "errors": json.dumps(errors),
    }
    try:
        async with conn.transaction():  # a savepoint: one bad record does not sink the batch
            cur = await conn.execute(INSERT_SESSION, params)
            stored = await cur.fetchone()
            if stored is None:
                cur = await conn.execute(
                    "select 1 from realtime_sessions where id = %s "
                    "and kiosk_id = (select private.kiosk_id())",
                    (record.id,),
                )
                if await cur.fetchone() is None:
                    return api.UploadResult(
                        id=record.id,
                        outcome=api.UploadOutcome.REJECTED,
                        message="this session id belongs to another kiosk",
                    )
                return api.UploadResult(id=record.id, outcome=api.UploadOutcome.DUPLICATE)
            if record.turns:
                async with conn.cursor() as turns:
                    await turns.executemany(
                        "insert into conversation_turns (session_id, gym_id, turn_index, role, "
                        "content, item_id, started_at, audio_ms) "
                        "values (%s, %s, %s, %s, %s, %s, %s, %s)",
                        [
                            (
                                record.id,
                                stored["gym_id"],
                                t.index,
                                t.role,
                                t.content,
                                t.item_id,
                                t.started_at,
                                t.audio_ms,
                            )
                            for t in record.turns
                        ],
                    )
    except psycopg.errors.InsufficientPrivilege:
        return api.UploadResult(
            id=record.id,
            outcome=api.UploadOutcome.REJECTED,
            message="the member does not belong to this kiosk's gym",
        )
    except psycopg.errors.ForeignKeyViolation:
        return api.UploadResult(
            id=record.id, outcome=api.UploadOutcome.REJECTED, message="unknown member"
        )
    except psycopg.errors.UniqueViolation:
        return api.UploadResult(
            id=record.id, outcome=api.UploadOutcome.REJECTED, message="two turns share an index"
        )
    return api.UploadResult(id=record.id, outcome=api.UploadOutcome.STORED)


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
    results = []
    async with services.database.transaction(kiosk.claims) as conn:
        if await current_kiosk(conn) is None:
            raise kiosk_revoked()
        for event in body.events:
            try:
                async with conn.transaction():
                    cur = await conn.execute(
                        "insert into kiosk_events (id, kiosk_id, gym_id, kind, occurred_at, "
                        "badge_id, member_id, detail) values (%s, (select private.kiosk_id()), "
                        "(select private.kiosk_gym_id()), %s, %s, %s, "
                        "(select id from gym_members where id = %s), %s) "
                        "on conflict (id) do nothing returning id",
                        (
                            event.id,
                            event.kind.value,
                            event.occurred_at,
                            event.badge_id,
                            event.member_id,
                            json.dumps(event.detail),
                        ),
                    )
                    outcome = (
                        api.UploadOutcome.STORED
                        if await cur.fetchone()
                        else api.UploadOutcome.DUPLICATE
                    )
                results.append(api.UploadResult(id=event.id, outcome=outcome))
            except psycopg.errors.InsufficientPrivilege:
                results.append(
                    api.UploadResult(
                        id=event.id,
                        outcome=api.UploadOutcome.REJECTED,
                        message="this event id belongs to another kiosk",
                    )
                )
    return api.BatchResult(results=results)
