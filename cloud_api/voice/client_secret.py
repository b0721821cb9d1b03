"""Minting an ephemeral Realtime client secret with the organisation's key.

The key is used here and nowhere else: it goes to OpenAI (or the simulator) in the
`Authorization` header and is scrubbed from any error text before that text is logged or
returned. OpenAI's failures become a few outcomes the kiosk can act on.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import openai
from fastapi import FastAPI, Request
from openai import AsyncOpenAI

from cloud_api.config import CloudSettings
from contract.errors import ErrorCode

log = logging.getLogger("jarvis.cloud.voice")


@dataclass(frozen=True)
class MintedSecret:
    value: str
    expires_at: datetime
    session: dict[str, Any]


class MintError(Exception):
    """Minting failed: `code` for the API answer, `reason` for operators (already scrubbed of
    the key), `retry_after_s` when waiting may help."""

    def __init__(self, code: ErrorCode, reason: str, retry_after_s: int | None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.retry_after_s = retry_after_s


def scrub(text: str, secret: str) -> str:
    return text.replace(secret, "[redacted]") if secret else text


_STATE = "jarvis_openai"


@asynccontextmanager
async def openai_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """One SDK client per app (its connection pool is reused), closed at shutdown; none
    without a key. Routers that need it all carry this lifespan; the first one sets it up."""
    if hasattr(app.state, _STATE):
        yield
        return
    settings: CloudSettings = app.state.settings
    client = None
    if settings.openai_api_key is not None:
        client = AsyncOpenAI(
            api_key=settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url,
            timeout=settings.voice_openai_timeout_s,
            max_retries=1,
        )
    setattr(app.state, _STATE, client)
    try:
        yield
    finally:
        delattr(app.state, _STATE)
        if client is not None:
            await client.close()


def openai_for(request: Request) -> AsyncOpenAI | None:
    """The app's OpenAI client, or None when the cloud has no key."""
    client: AsyncOpenAI | None = getattr(request.app.state, _STATE, None)
    return client


def _error(exc: openai.OpenAIError, api_key: str) -> MintError:
    reason = scrub(str(exc), api_key)
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return MintError(ErrorCode.OPENAI_KEY_REFUSED, reason, None)
    if isinstance(exc, openai.RateLimitError):
        return MintError(ErrorCode.OPENAI_RATE_LIMITED, reason, 30)
    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError):
        return MintError(ErrorCode.OPENAI_UNREACHABLE, reason, 10)
    if isinstance(exc, openai.APIStatusError) and exc.status_code >= 500:
        return MintError(ErrorCode.OPENAI_UNAVAILABLE, reason, 10)
    # 400/404/422: OpenAI refused what we sent (e.g. a kiosk configured with an unknown
    # voice or model): retrying will not help until the configuration is fixed.
    return MintError(ErrorCode.OPENAI_REFUSED_SESSION, reason, None)


async def mint_client_secret(
    client: AsyncOpenAI, api_key: str, *, session: dict[str, Any], model: str, ttl_s: int
) -> MintedSecret:
    try:
        created = await client.realtime.client_secrets.create(
            session=cast(Any, {**session, "model": model}),
            expires_after={"anchor": "created_at", "seconds": ttl_s},
        )
    except openai.OpenAIError as exc:
        error = _error(exc, api_key)
        log.warning("minting a Realtime client secret failed (%s): %s", error.code, error.reason)
        raise error from None
    return MintedSecret(
        value=created.value,
        expires_at=datetime.fromtimestamp(created.expires_at, UTC),
        session=created.session.model_dump(mode="json", exclude_none=True),
    )
