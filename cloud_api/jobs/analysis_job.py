"""One session's chain: analysis (OpenAI or local) → analytics and churn → alerts.

Never loses a session: a failed attempt leaves the summary `pending` and the job retries with
backoff; the last attempt falls back to the local analyzer, so a session is always analysed
unless the database itself fails. Storing is idempotent (see private.worker_store_analysis).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from uuid import UUID

from cloud_api.data import pipeline as store
from cloud_api.jobs.runtime import JobRuntime
from cloud_api.pipeline.local_analyzer import analyze_locally
from cloud_api.pipeline.openai_analyzer import AnalysisRefused, AnalysisUnavailable

log = logging.getLogger("jarvis.jobs.analysis")


@dataclass(frozen=True)
class AnalysisOutcome:
    session_id: UUID
    status: str  # analysed | already_done | gone
    analyzer: str | None = None
    alerts_raised: int = 0


async def analyze_session(
    runtime: JobRuntime, session_id: UUID, *, attempt: int, last_attempt: bool
) -> AnalysisOutcome:
    async with runtime.database.transaction() as conn:
        loaded = await store.load_transcript(conn, session_id)
        if loaded is None:
            return AnalysisOutcome(session_id, "gone")
        transcript, status = loaded
        if status == "done":
            return AnalysisOutcome(session_id, "already_done")
        await store.attempt_started(conn, session_id)

    analyzer = runtime.analyzer
    result = None
    if analyzer is not None:
        try:
            result = await analyzer.analyze(transcript)
        except AnalysisRefused as exc:
            log.warning("session %s: %s; analysing it locally", session_id, exc)
        except AnalysisUnavailable as exc:
            if not last_attempt:
                async with runtime.database.transaction() as conn:
                    await store.analysis_failed(conn, session_id, str(exc), final=False)
                raise
            log.warning("session %s: %s on the last attempt; analysing it locally", session_id, exc)
    if result is None:
        # CPU-bound but about a millisecond: a thread keeps the event loop responsive.
        result = await asyncio.to_thread(analyze_locally, transcript)
    async with runtime.database.transaction() as conn:
        chain = await store.store_analysis(conn, session_id, result, runtime.clock())
    log.info(
        "session %s analysed (%s, %s, attempt %d): %d alert(s)",
        session_id,
        result.analyzer,
        result.analysis.sentiment_label,
        attempt,
        chain.alerts_raised,
    )
    return AnalysisOutcome(session_id, "analysed", result.analyzer, chain.alerts_raised)
