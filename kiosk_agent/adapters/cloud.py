"""The kiosk's HTTP client for the JARVIS cloud (httpx), built against ``contract.kiosk_api``.

Failures are translated at the boundary into :mod:`kiosk_agent.adapters.cloud_errors`.

Authentication: the kiosk exchanges its credential for a short-lived bearer token (``TOKEN``),
renews it before it expires, and on a 401 fetches a fresh one once before giving up. Neither
the credential nor tokens are ever logged or put in a message.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

import httpx
from pydantic import BaseModel, ValidationError

from contract import kiosk_api as api
from kiosk_agent import __version__
from kiosk_agent.adapters.cloud_errors import (
    CloudError,
    CloudUnreachable,
    CredentialRejected,
    NotJarvisCloud,
    claim_refusal,
    describe_transport_error,
    error_body,
    error_for_answer,
)
from kiosk_agent.config import CloudSection

logger = logging.getLogger(__name__)

KEEP_ALIVE_S = 60.0
"""Seconds an idle connection to the cloud stays open for the next request."""

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class CloudHealth:
    service: str
    status: str
    version: str | None
    server_time: datetime | None
    """The cloud's clock when it answered (from its body, else its Date header)."""
    round_trip_s: float


class Credentials:
    """What the client authenticates with; the credential can change (rotation)."""

    def __init__(self, kiosk_id: UUID, credential: str) -> None:
        self.kiosk_id = kiosk_id
        self._credential = credential

    def secret(self) -> str:
        return self._credential

    def replace(self, credential: str) -> None:
        self._credential = credential

    def __repr__(self) -> str:
        return f"Credentials(kiosk_id={self.kiosk_id}, credential=***)"


class CloudClient:
    """One instance per cloud URL; ``credentials`` is None until the kiosk is provisioned."""

    def __init__(
        self,
        base_url: str,
        settings: CloudSection,
        *,
        credentials: Credentials | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        on_new_credential: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._settings = settings
        self._credentials = credentials
        self._on_new_credential = on_new_credential
        self._token: str | None = None
        self._token_renew_at = 0.0
        self._token_lock = asyncio.Lock()
        verify: str | bool = str(settings.ca_bundle) if settings.ca_bundle else True
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(settings.request_timeout_s, connect=settings.connect_timeout_s),
            headers={"User-Agent": f"jarvis-kiosk/{__version__}"},
            # Idle connections kept past the heartbeat interval (30 s), below the cloud's own
            # 75 s: the voice start at a tap skips TCP and TLS handshakes (issue 9).
            limits=httpx.Limits(keepalive_expiry=KEEP_ALIVE_S),
            transport=transport,
            verify=verify,
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> CloudClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- plumbing ---------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        body: BaseModel | None = None,
        params: dict[str, str | int] | None = None,
        token: str | None = None,
        timeout_s: float | None = None,
    ) -> httpx.Response:
        if self._http.is_closed:
            raise CloudUnreachable("this kiosk is no longer connected to the cloud")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        content = body.model_dump_json().encode() if body is not None else None
        if content is not None:
            headers["Content-Type"] = "application/json"
        timeout = (
            httpx.Timeout(timeout_s, connect=min(timeout_s, self._settings.connect_timeout_s))
            if timeout_s is not None
            else None
        )
        try:
            if timeout is None:
                return await self._http.request(
                    method, path, content=content, params=params, headers=headers
                )
            return await self._http.request(
                method, path, content=content, params=params, headers=headers, timeout=timeout
            )
        except httpx.TransportError as exc:
            waited = timeout_s or self._settings.request_timeout_s
            raise CloudUnreachable(
                describe_transport_error(exc, self.base_url + path, waited)
            ) from exc

    def _fail(self, response: httpx.Response, path: str) -> CloudError:
        """The error for a non-2xx answer."""
        return error_for_answer(response, self.base_url, path)

    def _decode(self, response: httpx.Response, model: type[M], path: str) -> M:
        if not response.is_success:
            raise self._fail(response, path)
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            first = exc.errors()[0] if exc.errors() else {"msg": "invalid"}
            raise NotJarvisCloud(
                f"the answer of {self.base_url}{path} is not what a JARVIS cloud sends "
                f"({first.get('msg')}); check the cloud URL, or update the kiosk software if "
                "the cloud is newer"
            ) from exc

    async def _authorized(
        self,
        method: str,
        path: str,
        model: type[M],
        *,
        body: BaseModel | None = None,
        params: dict[str, str | int] | None = None,
        timeout_s: float | None = None,
    ) -> M:
        token = await self._bearer()
        response = await self._send(
            method, path, body=body, params=params, token=token, timeout_s=timeout_s
        )
        if response.status_code == 401:
            token = await self._bearer(renew=True)
            response = await self._send(
                method, path, body=body, params=params, token=token, timeout_s=timeout_s
            )
            if response.status_code == 401:
                raise CredentialRejected(
                    "the cloud refuses this kiosk's token even freshly issued: the kiosk may "
                    "have been revoked; run `jarvis-kiosk provision --force` with a new code"
                )
        return self._decode(response, model, path)

    async def _bearer(self, *, renew: bool = False) -> str:
        async with self._token_lock:
            if not renew and self._token and time.monotonic() < self._token_renew_at:
                return self._token
            self._token = None
            token = await self._fetch_token()
            self._token = token.access_token
            margin = min(60.0, token.expires_in * 0.2)
            self._token_renew_at = time.monotonic() + max(token.expires_in - margin, 1.0)
            return self._token

    async def _fetch_token(self) -> api.TokenResponse:
        if self._credentials is None:
            raise CredentialRejected("this kiosk is not provisioned: run `jarvis-kiosk provision`")
        request = api.TokenRequest(
            kiosk_id=self._credentials.kiosk_id, credential=self._credentials.secret()
        )
        response = await self._send("POST", api.TOKEN, body=request)
        if response.status_code in (401, 403):
            error = error_body(response)
            told = f" ({error.message})" if error else ""
            raise CredentialRejected(
                f"the cloud refused this kiosk's credential{told}: it was revoked or the kiosk "
                "was provisioned again elsewhere; run `jarvis-kiosk provision --force` with a "
                "new code"
            )
        return self._decode(response, api.TokenResponse, api.TOKEN)

    # -- the API ----------------------------------------------------------------------------

    async def health(self) -> CloudHealth:
        """Whether ``base_url`` is a JARVIS cloud, up, and what time it thinks it is."""
        started = time.monotonic()
        response = await self._send("GET", api.HEALTH)
        round_trip = time.monotonic() - started
        try:
            body = response.json()
        except ValueError:
            body = None
        service = body.get("service") if isinstance(body, dict) else None
        if service != api.SERVICE_NAME:
            if isinstance(body, dict) and "error" in body and response.status_code >= 500:
                raise self._fail(response, api.HEALTH)
            raise NotJarvisCloud(
                f"{self.base_url} answered, but not as a JARVIS cloud (its {api.HEALTH} says "
                f"{_shorten(response.text)!r}, HTTP {response.status_code}); check the URL"
            )
        assert isinstance(body, dict)
        return CloudHealth(
            service=service,
            status=str(body.get("status", "unknown")),
            version=str(body["version"]) if body.get("version") else None,
            server_time=_server_time(body, response),
            round_trip_s=round_trip,
        )

    async def claim(self, request: api.ClaimRequest) -> api.ClaimResponse:
        response = await self._send("POST", api.PROVISION_CLAIM, body=request)
        if response.is_success or response.status_code == 429 or response.status_code >= 500:
            return self._decode(response, api.ClaimResponse, api.PROVISION_CLAIM)
        error = error_body(response)
        if error is None:
            raise self._fail(response, api.PROVISION_CLAIM)
        raise claim_refusal(response.status_code, error.code, error.message, error.details)

    async def check_credential(self) -> None:
        """Raise CredentialRejected unless the credential buys a token now."""
        await self._bearer(renew=True)

    async def heartbeat(self, request: api.HeartbeatRequest) -> api.HeartbeatResponse:
        return await self._authorized("POST", api.HEARTBEAT, api.HeartbeatResponse, body=request)

    async def upload_sessions(self, records: Sequence[api.SessionRecord]) -> api.BatchResult:
        batch = api.SessionBatch(sessions=list(records))
        return await self._authorized("POST", api.SESSIONS, api.BatchResult, body=batch)

    async def upload_events(self, events: Sequence[api.KioskEvent]) -> api.BatchResult:
        batch = api.EventBatch(events=list(events))
        return await self._authorized("POST", api.EVENTS, api.BatchResult, body=batch)

    async def member_by_badge(self, badge_id: str, *, timeout_s: float) -> api.MemberCard:
        path = api.MEMBER_BY_BADGE.format(badge_id=badge_id)
        return await self._authorized("GET", path, api.MemberCard, timeout_s=timeout_s)

    async def member_sync(self, cursor: str | None, *, limit: int = 500) -> api.MemberSyncPage:
        params: dict[str, str | int] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        return await self._authorized("GET", api.MEMBER_SYNC, api.MemberSyncPage, params=params)

    async def voice_start(
        self, request: api.VoiceStartRequest, *, timeout_s: float
    ) -> api.VoiceStartResponse:
        return await self._authorized(
            "POST", api.VOICE_START, api.VoiceStartResponse, body=request, timeout_s=timeout_s
        )

    async def voice_standby(self, *, timeout_s: float) -> api.VoiceStandbyResponse:
        """A client secret bound to no member, for a warm Realtime connection."""
        return await self._authorized(
            "POST", api.VOICE_STANDBY, api.VoiceStandbyResponse, timeout_s=timeout_s
        )

    async def run_tool(self, name: str, request: api.ToolCallRequest) -> api.ToolCallResponse:
        path = api.TOOL_CALL.format(name=name)
        return await self._authorized("POST", path, api.ToolCallResponse, body=request)

    async def rotate_credential(self) -> api.RotateResponse:
        """Get a new credential, hand it to ``on_new_credential`` (which must store it
        durably), and only then start using it."""
        rotated = await self._authorized("POST", api.CREDENTIAL_ROTATE, api.RotateResponse)
        if self._on_new_credential is not None:
            await self._on_new_credential(rotated.credential)
        if self._credentials is not None:
            self._credentials.replace(rotated.credential)
        self._token = None
        return rotated


def _server_time(body: dict[str, Any], response: httpx.Response) -> datetime | None:
    for key in ("time", "server_time"):
        value = body.get(key)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    header = response.headers.get("Date")
    if header:
        try:
            return email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return None
    return None


def _shorten(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
