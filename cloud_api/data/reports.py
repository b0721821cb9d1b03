"""What kiosks report: heartbeats, session records and events.

Uploads are idempotent on the id the kiosk made: storing the same record twice stores it
once. Each record of a batch is its own savepoint, so one bad record does not sink the batch.
A kiosk-made id is stored scoped to the kiosk's gym (`private.kiosk_record_id`, migration
20261129004100): the same id made in another gym is another row, invisible here.
"""

from __future__ import annotations

import json
from decimal import Decimal
from enum import StrEnum
from typing import Any

import psycopg

from cloud_api.db.database import Claims, Conn, Database, Statement
from contract import kiosk_api as api
from contract.pricing import CostBreakdown

HEARTBEAT = "select * from private.kiosk_heartbeat({}::jsonb, {})"


async def store_heartbeat(
    database: Database, claims: Claims, heartbeat: api.HeartbeatRequest, ip: str
) -> dict[str, Any] | None:
    """Stores the calling kiosk's heartbeat (a unit of work of its own, one round trip: see
    migration 20261129001100); its config (voice, language, openai_model), its pending
    `commands` and `server_time`. None when its credential is no longer valid.

    A heartbeat is superseded 30 s later: it does not wait for its WAL flush."""
    statement = Statement(HEARTBEAT, (heartbeat.model_dump_json(), ip))
    return await database.one_statement(claims, statement, durable=False)


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
    input_cached_tokens, input_cached_text_tokens, input_cached_audio_tokens,
    output_text_tokens, output_audio_tokens, transcription_tokens, transcription_model,
    transcription_input_audio_tokens, transcription_input_text_tokens,
    transcription_output_tokens, transcription_seconds, cost_usd, cost_breakdown,
    turn_count, first_response_ms, avg_response_ms, p95_response_ms, avg_playback_ms,
    greeting_ms, tool_calls, reconnects, reconnect_count, errors)
values ((select private.kiosk_record_id(%(id)s)), (select private.kiosk_gym_id()),
    (select private.kiosk_id()), %(member_id)s,
    %(started_at)s, %(ended_at)s, 'closed', %(end_reason)s, %(model)s, %(voice)s, %(language)s,
    %(input_text_tokens)s, %(input_audio_tokens)s, %(input_cached_tokens)s,
    %(input_cached_text_tokens)s, %(input_cached_audio_tokens)s,
    %(output_text_tokens)s, %(output_audio_tokens)s, %(transcription_tokens)s,
    %(transcription_model)s, %(transcription_input_audio_tokens)s,
    %(transcription_input_text_tokens)s, %(transcription_output_tokens)s,
    %(transcription_seconds)s, %(cost)s, %(cost_breakdown)s,
    %(turn_count)s, %(first_response_ms)s, %(avg_response_ms)s, %(p95_response_ms)s,
    %(avg_playback_ms)s, %(greeting_ms)s, %(tool_calls)s, %(reconnects)s, %(reconnect_count)s,
    %(errors)s)
on conflict (id) do nothing
returning id, gym_id
"""

INSERT_TURN = (
    "insert into conversation_turns (session_id, gym_id, turn_index, role, content, item_id, "
    "started_at, audio_ms, response_ms, playback_ms, interrupted, after_reconnect) "
    "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


async def store_session(
    conn: Conn, record: api.SessionRecord, *, cost: CostBreakdown | None, errors: list[str]
) -> Stored:
    """Stores the calling kiosk's session record and its turns (a savepoint: a refused
    record changes nothing); ``cost`` None when it could not be priced (stored as 0)."""
    usage, heard = record.usage, record.transcription
    params = {
        "id": record.id,
        "member_id": record.member_id,
        "started_at": record.started_at,
        "ended_at": record.ended_at,
        "end_reason": record.end_reason.value,
        "model": record.model,
        "voice": record.voice,
        "language": record.language,
        **usage.model_dump(),
        "transcription_tokens": max(record.transcription_tokens, heard.tokens),
        "transcription_model": heard.model,
        "transcription_input_audio_tokens": heard.input_audio_tokens,
        "transcription_input_text_tokens": heard.input_text_tokens,
        "transcription_output_tokens": heard.output_text_tokens,
        "transcription_seconds": heard.seconds,
        "cost": cost.total if cost is not None else Decimal(0),
        "cost_breakdown": json.dumps(
            {kind: float(usd) for kind, usd in cost.rounded().items()} if cost else {}
        ),
        "turn_count": len(record.turns),
        **record.latency.model_dump(),
        "tool_calls": json.dumps([t.model_dump(mode="json") for t in record.tool_calls]),
        "reconnects": json.dumps([r.model_dump(mode="json") for r in record.reconnects]),
        "reconnect_count": len(record.reconnects),
        "errors": json.dumps(errors),
    }
    try:
        async with conn.transaction():
            cur = await conn.execute(INSERT_SESSION, params)
            stored = await cur.fetchone()
            if stored is None:
                cur = await conn.execute(
                    "select 1 from realtime_sessions "
                    "where id = (select private.kiosk_record_id(%s)) "
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
                                stored["id"],
                                stored["gym_id"],
                                t.index,
                                t.role,
                                t.content,
                                t.item_id,
                                t.started_at,
                                t.audio_ms,
                                t.response_ms,
                                t.playback_ms,
                                t.interrupted,
                                t.after_reconnect,
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
                "badge_id, member_id, detail) values ((select private.kiosk_record_id(%s)), "
                "(select private.kiosk_id()), "
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
