"""What kiosks report: heartbeats, session records and events.

Uploads are idempotent on the id the kiosk made: storing the same record twice stores it
once. Each record of a batch is its own savepoint, so one bad record does not sink the batch.
"""

from __future__ import annotations

import json
from decimal import Decimal
from enum import StrEnum
from typing import Any

import psycopg

from cloud_api.db.database import Conn
from contract import kiosk_api as api

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


async def store_heartbeat(
    conn: Conn, heartbeat: api.HeartbeatRequest, ip: str
) -> dict[str, Any] | None:
    """Stores the calling kiosk's heartbeat; its config (voice, language, openai_model), its
    pending `commands` and `server_time`. None when its credential is no longer valid."""
    h = heartbeat.health
    params = {
        "status": heartbeat.status.value,
        "version": heartbeat.software_version,
        "ip": ip,
        "cpu": h.cpu_percent,
        "temp": h.cpu_temp_c,
        "mem": h.memory_percent,
        "disk": h.disk_percent,
        "mic": h.mic_ok,
        "reader": h.reader_ok,
        "net": h.network_ok,
        "depth": heartbeat.outbox_depth,
        "error": heartbeat.last_error,
        "health": h.model_dump_json(),
    }
    return await (await conn.execute(HEARTBEAT_SQL, params)).fetchone()


class Stored(StrEnum):
    """What became of one uploaded record."""

    STORED = "stored"
    DUPLICATE = "duplicate"  # this kiosk sent it before
    OTHER_KIOSK = "other_kiosk"  # the id is taken by another kiosk's record
    OTHER_GYM_MEMBER = "other_gym_member"  # the member is not one of the kiosk's gym
    UNKNOWN_MEMBER = "unknown_member"
    TURN_INDEX_TAKEN = "turn_index_taken"  # two turns of the record share an index


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

INSERT_TURN = (
    "insert into conversation_turns (session_id, gym_id, turn_index, role, content, item_id, "
    "started_at, audio_ms) values (%s, %s, %s, %s, %s, %s, %s, %s)"
)


async def store_session(
    conn: Conn, record: api.SessionRecord, *, cost: Decimal, errors: list[str]
) -> Stored:
    """Stores the calling kiosk's session record and its turns (a savepoint: a refused
    record changes nothing)."""
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
        async with conn.transaction():
            cur = await conn.execute(INSERT_SESSION, params)
            stored = await cur.fetchone()
            if stored is None:
                cur = await conn.execute(
                    "select 1 from realtime_sessions where id = %s "
                    "and kiosk_id = (select private.kiosk_id())",
                    (record.id,),
                )
                mine = await cur.fetchone() is not None
                return Stored.DUPLICATE if mine else Stored.OTHER_KIOSK
            if record.turns:
                async with conn.cursor() as turns:
                    await turns.executemany(
                        INSERT_TURN,
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
        return Stored.OTHER_GYM_MEMBER
    except psycopg.errors.ForeignKeyViolation:
        return Stored.UNKNOWN_MEMBER
    except psycopg.errors.UniqueViolation:
        return Stored.TURN_INDEX_TAKEN
    return Stored.STORED


async def store_event(conn: Conn, event: api.KioskEvent) -> Stored:
    """Stores the calling kiosk's event (a savepoint); a member id that is not of its gym
    is dropped, the event kept."""
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
            return Stored.STORED if await cur.fetchone() else Stored.DUPLICATE
    except psycopg.errors.InsufficientPrivilege:
        return Stored.OTHER_KIOSK
