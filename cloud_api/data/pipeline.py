"""The pipeline's SQL, run by the worker (`jarvis_worker`) through private definer functions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from cloud_api.db.worker import WorkerConn
from cloud_api.pipeline.analysis import AnalysisResult, Transcript, Turn
from cloud_api.tools.embedding import pgvector


@dataclass(frozen=True)
class StoredChain:
    member_id: UUID | None
    analytics_changed: int
    alerts_raised: int


async def load_transcript(conn: WorkerConn, session_id: UUID) -> tuple[Transcript, str] | None:
    """(the session's transcript, its summary's status); None when the session is gone."""
    cur = await conn.execute("select * from private.worker_session_for_analysis(%s)", (session_id,))
    row = await cur.fetchone()
    if row is None:
        return None
    calls: list[dict[str, Any]] = list(row["tool_calls"] or [])
    transcript = Transcript(
        session_id=row["session_id"],
        language=row["language"],
        first_name=row["first_name"],
        turns=tuple(Turn(t["role"], t["content"]) for t in row["turns"]),
        tool_names=tuple(str(c.get("name")) for c in calls if c.get("ok", True)),
        tool_calls=tuple(calls),
    )
    return transcript, str(row["status"])


async def attempt_started(conn: WorkerConn, session_id: UUID) -> int:
    cur = await conn.execute("select private.worker_analysis_started(%s) as n", (session_id,))
    row = await cur.fetchone()
    return int(row["n"]) if row and row["n"] is not None else 0


async def analysis_failed(conn: WorkerConn, session_id: UUID, error: str, *, final: bool) -> None:
    await conn.execute(
        "select private.worker_analysis_failed(%s, %s, %s)", (session_id, error, final)
    )


async def store_analysis(
    conn: WorkerConn, session_id: UUID, result: AnalysisResult, now: datetime
) -> StoredChain:
    """Store the analysis, refresh the member's analytics and churn, raise alerts: one
    transaction, idempotent."""
    embedding = pgvector(result.embedding) if result.embedding is not None else None
    cur = await conn.execute(
        "select * from private.worker_store_analysis(%s, %s, %s, %s)",
        (session_id, json.dumps(result.row()), embedding, now),
    )
    row = await cur.fetchone()
    if row is None:
        return StoredChain(None, 0, 0)
    return StoredChain(row["member_id"], row["analytics_changed"], row["alerts_raised"])


async def sessions_to_analyze(conn: WorkerConn, older_than_s: int, limit: int) -> list[UUID]:
    cur = await conn.execute(
        "select s as id from private.worker_sessions_to_analyze(make_interval(secs => %s), %s) s",
        (older_than_s, limit),
    )
    return [r["id"] for r in await cur.fetchall()]
