"""Everything a kiosk calls: claim, token, rotation, heartbeat, sessions, events, members."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from fastapi import APIRouter, Query, Request
from psycopg.rows import DictRow

from cloud_api.auth.kiosk import credential_hash, mint_token, new_credential
from cloud_api.deps import AnonymousApi, KioskApi, ServicesDep, client_ip, kiosk_revoked
from cloud_api.errors import ApiError, error_responses
from contract import kiosk_api as api
from contract.badge import BadgeIdError, normalize_badge_id
from contract.pricing import UnknownModel, session_cost
from provisioning.code import InvalidCode, code_hash

log = logging.getLogger("jarvis.cloud.kiosk")
router = APIRouter(tags=["kiosk"])
Conn = psycopg.AsyncConnection[DictRow]
ERRORS = error_responses(401, 422, 429)

CLAIM_ERRORS = {
    "code_invalid": (404, "This provisioning code does not exist. Check it, or ask for a new one."),
    "code_expired": (410, "This provisioning code has expired. Ask the gym for a new one."),
    "code_used": (409, "This provisioning code has already been used. Ask the gym for a new one."),
}


def kiosk_config(settings: Any, row: dict[str, Any]) -> api.KioskConfig:
    return api.KioskConfig(
        voice=row["voice"], language=row["language"], openai_model=row["openai_model"]
    )


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
        config=kiosk_config(settings, row),
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
        config=kiosk_config(services.settings, row),
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
        if await _current_kiosk(conn) is None:
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
        if await _current_kiosk(conn) is None:
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


async def _current_kiosk(conn: Conn) -> UUID | None:
    cur = await conn.execute("select private.kiosk_id() as id")
    row = await cur.fetchone()
    return row["id"] if row else None


MEMBER_CARD_SQL = """
select m.id as member_id, m.badge_id, m.first_name, m.membership_expires_on, m.updated_at,
    p.language, p.communication_style, p.voice_preference,
    case when not m.is_active then 'suspended'
         when m.membership_expires_on < (now() at time zone g.timezone)::date then 'expired'
         else 'active' end as status
from gym_members m
join gyms g on g.id = m.gym_id
left join member_preferences p on p.member_id = m.id
"""


def _card(row: dict[str, Any]) -> api.MemberCard:
    return api.MemberCard(
        badge_id=row["badge_id"],
        status=api.MembershipStatus(row["status"]),
        member_id=row["member_id"],
        first_name=row["first_name"],
        language=row["language"],
        preferences=api.MemberPreferences(
            communication_style=row["communication_style"] or "friendly",
            voice_preference=row["voice_preference"],
        ),
        membership_expires_on=row["membership_expires_on"],
    )


@router.get(
    api.MEMBER_BY_BADGE,
    response_model=api.MemberCard,
    responses=ERRORS,
    summary="Look a badge up in this kiosk's gym",
)
async def member_by_badge(badge_id: str, kiosk: KioskApi, services: ServicesDep) -> api.MemberCard:
    try:
        canonical = normalize_badge_id(badge_id)
    except BadgeIdError as exc:
        raise ApiError(422, "badge_malformed", f"Invalid badge id: {exc}") from exc
    async with services.database.transaction(kiosk.claims) as conn:
        if await _current_kiosk(conn) is None:
            raise kiosk_revoked()
        cur = await conn.execute(
            MEMBER_CARD_SQL + " where m.gym_id = (select private.kiosk_gym_id()) "
            "and m.badge_id = %s",
            (canonical,),
        )
        row = await cur.fetchone()
    if row is None:
        return api.MemberCard(badge_id=canonical, status=api.MembershipStatus.UNKNOWN)
    return _card(row)


# Rows changed in the last few seconds may belong to transactions that commit after later
# ones. A cursor therefore carries two positions per stream: where this round of pages goes
# on (`page`), and where the next round starts (`settled`, which never passes now() - SAFETY,
# so young rows are sent again next round rather than ever skipped). Kiosks upsert by badge.
SYNC_SAFETY = timedelta(seconds=10)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC).isoformat()
NIL = "00000000-0000-0000-0000-000000000000"
Position = list[Any]  # [timestamp iso, id]


def _decode_cursor(cursor: str | None) -> dict[str, Position | None]:
    start: dict[str, Position | None] = {"m": [EPOCH, NIL], "d": [EPOCH, 0], "pm": None, "pd": None}
    if not cursor:
        return start
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        decoded = {key: data.get(key) for key in start}
        for key in ("m", "pm"):
            if decoded[key] is not None or key == "m":
                datetime.fromisoformat(decoded[key][0])
                UUID(decoded[key][1])
        for key in ("d", "pd"):
            if decoded[key] is not None or key == "d":
                datetime.fromisoformat(decoded[key][0])
                int(decoded[key][1])
        return decoded
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise ApiError(
            422,
            "cursor_malformed",
            "The sync cursor is not one this API issued: start again without it.",
        ) from exc


def _encode_cursor(position: dict[str, Position | None]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def _advance(
    rows: list[dict[str, Any]],
    time_key: str,
    id_key: str,
    settled: Position,
    limit: int,
    horizon: datetime,
) -> tuple[Position, Position | None]:
    """New settled position, and where the next page starts (None: this stream is done).
    Rows come after the scan position, itself at or after `settled`: both only move forward."""

    def at(row: dict[str, Any]) -> Position:
        ident = row[id_key]
        return [row[time_key].isoformat(), ident if isinstance(ident, int) else str(ident)]

    old = [r for r in rows if r[time_key] < horizon]
    return (at(old[-1]) if old else settled), (at(rows[-1]) if len(rows) == limit else None)


@router.get(
    api.MEMBER_SYNC,
    response_model=api.MemberSyncPage,
    responses=ERRORS,
    summary="Badges of this kiosk's gym changed since a cursor (offline cache)",
)
async def member_sync(
    kiosk: KioskApi,
    services: ServicesDep,
    cursor: str | None = Query(default=None, max_length=1000),
    limit: int = Query(default=500, ge=1, le=2000),
) -> api.MemberSyncPage:
    position = _decode_cursor(cursor)
    scan_m = position["pm"] or position["m"]
    scan_d = position["pd"] or position["d"]
    assert scan_m is not None
    assert scan_d is not None
    async with services.database.transaction(kiosk.claims) as conn:
        if await _current_kiosk(conn) is None:
            raise kiosk_revoked()
        horizon_row = await (
            await conn.execute("select now() - %s as h", (SYNC_SAFETY,))
        ).fetchone()
        assert horizon_row is not None
        horizon = horizon_row["h"]
        cur = await conn.execute(
            MEMBER_CARD_SQL + " where m.gym_id = (select private.kiosk_gym_id()) "
            "and (m.updated_at, m.id) > (%s::timestamptz, %s::uuid) "
            "order by m.updated_at, m.id limit %s",
            (scan_m[0], scan_m[1], limit),
        )
        members = await cur.fetchall()
        cur = await conn.execute(
            "select d.id, d.badge_id, d.deleted_at from gym_member_deletions d "
            "where d.gym_id = (select private.kiosk_gym_id()) "
            "and (d.deleted_at, d.id) > (%s::timestamptz, %s::bigint) "
            # A badge handed to a member again is live, not deleted.
            "and not exists (select 1 from gym_members m "
            "                where m.gym_id = d.gym_id and m.badge_id = d.badge_id) "
            "order by d.deleted_at, d.id limit %s",
            (scan_d[0], scan_d[1], limit),
        )
        deletions = await cur.fetchall()
    cards = [_card(row) for row in members]
    live = {card.badge_id for card in cards}
    cards += [
        api.MemberCard(badge_id=d["badge_id"], status=api.MembershipStatus.UNKNOWN)
        for d in deletions
        if d["badge_id"] not in live
    ]
    settled_m, page_m = _advance(
        members, "updated_at", "member_id", position["m"] or scan_m, limit, horizon
    )
    settled_d, page_d = _advance(
        deletions, "deleted_at", "id", position["d"] or scan_d, limit, horizon
    )
    next_position = {"m": settled_m, "d": settled_d, "pm": page_m, "pd": page_d}
    return api.MemberSyncPage(
        members=cards,
        next_cursor=_encode_cursor(next_position),
        has_more=page_m is not None or page_d is not None,
    )
