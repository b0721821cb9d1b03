"""A member's data as one JSON document, and the member's erasure — both audited.

These run with the operator's (admin) connection, like every `jarvis-cloud` operator
command: erasure reaches rows no API role may touch (the audit trail, the job queue).

Erasure, in one transaction, leaves no row, embedding or queued job mentioning the member:
their sessions (turns, summaries and their embeddings go with them), alerts (and their
deliveries), analytics, profile, preferences, bookings, session starts, kiosk events, the
audit entries about them, and the jobs whose arguments name their sessions or alerts. One
thing stays on purpose: the badge tombstone (`gym_member_deletions`, badge id and gym only)
that makes the gym's kiosks drop the member from their offline cache; retention deletes it
after 90 days. The erasure itself is audited without naming the member (a digest of the id).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row


class MemberNotFound(LookupError):
    """No member with this id."""


def _rows(conn: psycopg.Connection, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.encode(), params)
        return list(cur.fetchall())


def member_digest(member_id: UUID) -> str:
    return hashlib.sha256(str(member_id).encode()).hexdigest()[:16]


def export_member(conn: psycopg.Connection, member_id: UUID, *, actor: str) -> dict[str, Any]:
    """Everything held about one member, as one JSON-ready document."""
    member = _rows(conn, "select * from gym_members where id = %s", (member_id,))
    if not member:
        raise MemberNotFound(str(member_id))
    sessions = _rows(
        conn,
        "select s.*, coalesce((select jsonb_agg(jsonb_build_object('role', t.role, "
        "'content', t.content, 'started_at', t.started_at) order by t.turn_index) "
        "from conversation_turns t where t.session_id = s.id), '[]') as turns "
        "from realtime_sessions s where s.member_id = %s order by s.started_at",
        (member_id,),
    )
    document = {
        "exported_at": datetime.now(UTC).isoformat(),
        "member": member[0],
        "fitness_profile": _rows(
            conn, "select * from member_fitness_profile where member_id = %s", (member_id,)
        ),
        "preferences": _rows(
            conn, "select * from member_preferences where member_id = %s", (member_id,)
        ),
        "analytics": _rows(
            conn, "select * from member_analytics where member_id = %s", (member_id,)
        ),
        "sessions": sessions,
        "conversation_summaries": _rows(
            conn,
            "select session_id, status, summary_text, key_topics, sentiment_score, "
            "sentiment_label, emotion_detected, intents_detected, action_items, analyzer, "
            "analysis_model, embedding_model, processed_at from conversation_summaries "
            "where member_id = %s order by created_at",
            (member_id,),
        ),
        "alerts": _rows(
            conn,
            "select * from manager_alerts where member_id = %s order by created_at",
            (member_id,),
        ),
        "class_bookings": _rows(
            conn, "select * from class_bookings where member_id = %s", (member_id,)
        ),
        "voice_session_starts": _rows(
            conn, "select * from voice_session_starts where member_id = %s", (member_id,)
        ),
        "kiosk_events": _rows(
            conn, "select * from kiosk_events where member_id = %s", (member_id,)
        ),
    }
    conn.execute(
        "insert into audit_log (actor_type, gym_id, action, target_type, target_id, details) "
        "values ('system', %s, 'member.exported', 'member', %s, %s)",
        (member[0]["gym_id"], str(member_id), json.dumps({"by": actor})),
    )
    return document


def erase_member(conn: psycopg.Connection, member_id: UUID, *, actor: str) -> dict[str, int]:
    """Erase one member; returns how many rows of each kind went. One transaction."""
    member = _rows(
        conn, "select gym_id, badge_id from gym_members where id = %s for update", (member_id,)
    )
    if not member:
        raise MemberNotFound(str(member_id))
    gym_id, badge = member[0]["gym_id"], member[0]["badge_id"]
    sessions = [
        r["id"]
        for r in _rows(conn, "select id from realtime_sessions where member_id = %s", (member_id,))
    ]
    alerts = [
        r["id"]
        for r in _rows(conn, "select id from manager_alerts where member_id = %s", (member_id,))
    ]
    subjects = [str(x) for x in [member_id, *sessions, *alerts]]
    counts: dict[str, int] = {}

    def run(name: str, sql: str, params: tuple[Any, ...]) -> None:
        counts[name] = conn.execute(sql.encode(), params).rowcount

    run(
        "jobs",
        "delete from procrastinate.procrastinate_jobs where args ->> 'session_id' = any(%s) "
        "or args ->> 'alert_id' = any(%s)",
        (subjects, subjects),
    )
    run(
        "audit_entries",
        "delete from audit_log where target_id = any(%s) or details ->> 'member_id' = %s "
        "or details ->> 'session_id' = any(%s)",
        (subjects, str(member_id), subjects),
    )
    run(
        "kiosk_events",
        "delete from kiosk_events where member_id = %s or (gym_id = %s and badge_id = %s)",
        (member_id, gym_id, badge),
    )
    run("sessions", "delete from realtime_sessions where member_id = %s", (member_id,))
    run("alerts", "delete from manager_alerts where member_id = %s", (member_id,))
    run("member", "delete from gym_members where id = %s", (member_id,))
    conn.execute(
        "insert into audit_log (actor_type, gym_id, action, target_type, target_id, details) "
        "values ('system', %s, 'member.erased', 'member', %s, %s)",
        (gym_id, "sha256:" + member_digest(member_id), json.dumps({"by": actor, "erased": counts})),
    )
    return counts
