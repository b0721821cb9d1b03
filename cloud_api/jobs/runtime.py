"""What a job needs at hand: settings, the worker's database, OpenAI and HTTP clients."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from openai import AsyncOpenAI

from cloud_api.config import CloudSettings
from cloud_api.db.worker import WorkerDatabase
from cloud_api.pipeline.openai_analyzer import OpenAIAnalyzer
from cloud_api.pipeline.sentiment import warm_up


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class JobRuntime:
    settings: CloudSettings
    database: WorkerDatabase
    http: httpx.AsyncClient
    openai: AsyncOpenAI | None = None
    clock: Callable[[], datetime] = field(default=utc_now)

    @property
    def analyzer(self) -> OpenAIAnalyzer | None:
        """The OpenAI analyzer when the settings choose it, else None (local analysis)."""
        backend = self.settings.analysis_backend
        if self.openai is None or backend == "local":
            return None
        return OpenAIAnalyzer(
            self.openai,
            model=self.settings.analysis_model,
            embedding_model=self.settings.analysis_embedding_model,
            max_output_tokens=self.settings.analysis_max_output_tokens,
            max_transcript_chars=self.settings.analysis_max_transcript_chars,
        )

    @classmethod
    async def open(cls, settings: CloudSettings) -> JobRuntime:
        if not settings.worker_database_url:
            raise ValueError("the job runtime needs settings with worker_database_url resolved")
        database = WorkerDatabase(
            settings.worker_database_url, max_size=settings.worker_concurrency + 1
        )
        await database.open()
        client = None
        if settings.openai_api_key is not None and settings.analysis_backend != "local":
            client = AsyncOpenAI(
                api_key=settings.openai_api_key.get_secret_value(),
                base_url=settings.openai_base_url,
                timeout=settings.analysis_timeout_s,
                max_retries=0,  # the job's own retries, with backoff, handle failures
            )
        http = httpx.AsyncClient(timeout=settings.delivery_timeout_s, follow_redirects=False)
        # The local analyzer is also every session's fallback: load its lexicons up front.
        await asyncio.to_thread(warm_up)
        return cls(settings=settings, database=database, http=http, openai=client)

    async def close(self) -> None:
        await self.http.aclose()
        if self.openai is not None:
            await self.openai.close()
        await self.database.close()
