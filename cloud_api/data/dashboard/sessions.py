"""Conversations: the list (newest first, keyset pages) and one conversation's page."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import sql

from cloud_api.data.dashboard.common import (
    CursorError,
    Scope,
    decode_cursor,
    encode_cursor,
    fetch_all,
    fetch_one,
)
from cloud_api.db.database import Conn
from contract.pricing import TokenUsage, UnknownModel, cost_breakdown

PAGE_SIZE = 50
SENTIMENTS = ("positive", "neutral", "negative")


@dataclass(frozen=True)
class SessionFilters:
    sentiment: str = ""
    member_id: UUID | None = None
    kiosk_id: UUID | None = None
    days: int | None = None  # only the last N days


@dataclass(frozen=True)
class SessionPage:
    rows: list[dict[str, Any]]
    next_cursor: str | None


# The page's sessions are chosen first, from realtime_sessions alone (per gym: the newest N
# of each through the (gym_id, started_at) index, then the newest N of those), and only those
# are joined: joining first would join every session of the scope before sorting.
PICK_PER_GYM_SQL = """
select s.* from unnest({gyms}::uuid[]) as scope(gym_id)
cross join lateral (
    select s.* from realtime_sessions s
    where s.gym_id = scope.gym_id {where}
    order by s.started_at desc, s.id desc
    limit {limit}
) s
order by s.started_at desc, s.id desc
limit {limit}
"""
PICK_SQL = """
select s.* from realtime_sessions s where true {where}
order by s.started_at desc, s.id desc limit {limit}
"""
LIST_SQL = """
select s.id, s.started_at, s.duration_seconds, s.end_reason, s.cost_usd, s.turn_count,
       s.status, s.language, g.slug as gym_slug, g.name as gym_name,
       k.name as kiosk_name, m.id as member_id, m.first_name, m.last_name,
       c.summary_text, c.sentiment_label, c.sentiment_score, c.status as summary_status
from ({picked}) s
join gyms g on g.id = s.gym_id
join kiosks k on k.id = s.kiosk_id
left join gym_members m on m.id = s.member_id
left join conversation_summaries c on c.session_id = s.id
order by s.started_at desc, s.id desc
"""


async def list_sessions(
    conn: Conn, scope: Scope, filters: SessionFilters, cursor: str | None = None
) -> SessionPage:
    clauses: list[sql.Composable] = []
    if filters.sentiment in SENTIMENTS:
        clauses.append(
            sql.SQL(
                "exists (select 1 from conversation_summaries c "
                "where c.session_id = s.id and c.sentiment_label = {})"
            ).format(sql.Literal(filters.sentiment))
        )
    if filters.member_id:
        clauses.append(sql.SQL("s.member_id = {}").format(sql.Literal(filters.member_id)))
    if filters.kiosk_id:
        clauses.append(sql.SQL("s.kiosk_id = {}").format(sql.Literal(filters.kiosk_id)))
    if filters.days:
        clauses.append(
            sql.SQL("s.started_at >= now() - {}").format(sql.Literal(timedelta(days=filters.days)))
        )
    if cursor:
        started, last_id = decode_cursor(cursor, 2)
        if not isinstance(started, datetime):
            raise CursorError("this page link is damaged: start again from the first page")
        clauses.append(
            sql.SQL("(s.started_at, s.id) < ({}, {})").format(
                sql.Literal(started), sql.Literal(UUID(str(last_id)))
            )
        )
    where = sql.SQL("").join(sql.SQL(" and ") + c for c in clauses)
    limit = sql.Literal(PAGE_SIZE + 1)
    if scope is None:
        picked = sql.SQL(PICK_SQL).format(where=where, limit=limit)
    else:
        picked = sql.SQL(PICK_PER_GYM_SQL).format(
            gyms=sql.Literal(list(scope)), where=where, limit=limit
        )
    query = sql.SQL(LIST_SQL).format(picked=picked)
    rows = [dict(r) for r in await fetch_all(conn, query)]
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    next_cursor = encode_cursor([rows[-1]["started_at"], rows[-1]["id"]]) if more else None
    return SessionPage(rows, next_cursor)


@dataclass(frozen=True)
class TurnView:
    index: int
    role: str
    content: str
    started_at: datetime | None
    audio_ms: int | None
    response_ms: int | None  # assistant turns: gap after the member stopped speaking


@dataclass(frozen=True)
class SessionDetail:
    session: dict[str, Any]
    summary: dict[str, Any] | None
    turns: list[TurnView] = field(default_factory=list)
    cost: list[tuple[str, int, Decimal]] = field(default_factory=list)


DETAIL_SQL = """
select s.*, g.slug as gym_slug, g.name as gym_name, k.name as kiosk_name,
       m.first_name, m.last_name
from realtime_sessions s
join gyms g on g.id = s.gym_id
join kiosks k on k.id = s.kiosk_id
left join gym_members m on m.id = s.member_id
where s.id = %s
"""


def _turn_views(rows: list[dict[str, Any]]) -> list[TurnView]:
    views: list[TurnView] = []
    spoke_until: datetime | None = None
    for row in rows:
        response_ms = None
        if row["role"] == "user" and row["started_at"] is not None:
            spoke_until = row["started_at"] + timedelta(milliseconds=row["audio_ms"] or 0)
        elif row["role"] == "assistant" and row["started_at"] and spoke_until:
            gap = (row["started_at"] - spoke_until).total_seconds() * 1000
            response_ms = int(gap) if gap >= 0 else None
            spoke_until = None
        if row.get("response_ms") is not None:  # measured on the kiosk (issue 9)
            response_ms = row["response_ms"]
        views.append(
            TurnView(
                row["turn_index"],
                row["role"],
                row["content"],
                row["started_at"],
                row["audio_ms"],
                response_ms,
            )
        )
    return views


async def session_detail(conn: Conn, session_id: UUID) -> SessionDetail | None:
    session = await fetch_one(conn, DETAIL_SQL, (session_id,))
    if session is None:
        return None
    summary = await fetch_one(
        conn,
        "select summary_text, key_topics, sentiment_score, sentiment_label, emotion_detected, "
        "intents_detected, action_items, status, error, processed_at "
        "from conversation_summaries where session_id = %s",
        (session_id,),
    )
    turns = await fetch_all(
        conn,
        "select turn_index, role, content, started_at, audio_ms, response_ms "
        "from conversation_turns "
        "where session_id = %s order by turn_index",
        (session_id,),
    )
    return SessionDetail(
        dict(session),
        dict(summary) if summary else None,
        _turn_views([dict(t) for t in turns]),
        _cost_lines(session),
    )


def _cost_lines(session: Mapping[str, Any]) -> list[tuple[str, int, Decimal]]:
    """(kind, tokens, USD) as the session was billed when the cloud stored it (its
    `cost_breakdown`); recomputed from its usage with today's prices for records stored
    before the breakdown was kept."""
    cached_text = session["input_cached_text_tokens"]
    cached_audio = session["input_cached_audio_tokens"]
    tokens = {
        "text_input": max(session["input_text_tokens"] - cached_text, 0),
        "cached_text_input": cached_text,
        "audio_input": max(session["input_audio_tokens"] - cached_audio, 0),
        "cached_audio_input": cached_audio,
        "text_output": session["output_text_tokens"],
        "audio_output": session["output_audio_tokens"],
        "transcription": session["transcription_tokens"],
    }
    billed: Mapping[str, Any] = session["cost_breakdown"] or {}
    if not billed:
        usage = TokenUsage(
            input_text_tokens=session["input_text_tokens"],
            input_audio_tokens=session["input_audio_tokens"],
            input_cached_tokens=session["input_cached_tokens"],
            input_cached_text_tokens=cached_text,
            input_cached_audio_tokens=cached_audio,
            output_text_tokens=session["output_text_tokens"],
            output_audio_tokens=session["output_audio_tokens"],
        )
        try:
            billed = cost_breakdown(session["model"] or "", usage).model_dump()
        except UnknownModel:
            return []
    return [
        (kind, count, Decimal(str(billed.get(kind, 0))))
        for kind, count in tokens.items()
        if count or billed.get(kind)
    ]
