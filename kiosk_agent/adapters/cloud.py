"""The kiosk's HTTP client for the JARVIS cloud (httpx), built against ``contract.kiosk_api``.

httpx's exceptions and the cloud's error answers are translated here, at the boundary, into
a small hierarchy the rest of the kiosk (and a person reading a message) can act on::

    CloudError
    ├── CloudUnreachable      no answer: no network, DNS, refused, timed out, TLS failed
    ├── NotJarvisCloud        something answered, but not a JARVIS cloud
    ├── CloudUnavailable      the cloud answered 5xx (retry later; may carry retry_after_s)
    ├── RateLimited           429: wait ``retry_after_s`` seconds
    ├── CredentialRejected    the kiosk's credential is refused (revoked, re-provisioned)
    └── RequestRefused        any other 4xx, with the cloud's ``code`` and ``message``
        └── ClaimRefused      a provisioning code was refused
            ├── CodeInvalid   no such code
            ├── CodeExpired   the code is past its validity
            └── CodeUsed      the code was already claimed

Authentication: the kiosk exchanges its credential for a short-lived bearer token (``TOKEN``),
renews it before it expires, and on a 401 fetches a fresh one once before giving up. Neither
the credential nor tokens are ever logged or put in a message.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

import httpx
from pydantic import BaseModel, ValidationError

from contract import kiosk_api as api
from contract.errors import ErrorCode
from kiosk_agent import __version__
from kiosk_agent.config import CloudSection

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

DEFAULT_RETRY_AFTER_S = 30.0


class CloudError(Exception):
    """Talking to the cloud failed; ``str(error)`` is a sentence for a person.

    When the cloud answered with its error body, ``code`` is its stable code, ``told`` its
    own sentence (for voice refusals, one a member can hear) and ``details`` its details.
    """

    retry_after_s: float | None = None
    code: str | None = None
    told: str | None = None
    details: Any = None

    def with_body(self, code: str, told: str, details: Any) -> CloudError:
        self.code, self.told, self.details = code, told, details
        return self


class CloudUnreachable(CloudError):
    """Nothing answered."""


class NotJarvisCloud(CloudError):
    """Something answered, but it is not a JARVIS cloud (or not one this kiosk understands)."""


class CloudUnavailable(CloudError):
    def __init__(self, message: str, *, status: int, retry_after_s: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class RateLimited(CloudError):
    def __init__(self, message: str, *, retry_after_s: float):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class CredentialRejected(CloudError):
    """The cloud refuses this kiosk's credential."""


class RequestRefused(CloudError):
    def __init__(self, message: str, *, status: int, code: str, details: Any = None):
        super().__init__(message)
        self.status = status
        self.code: str = code
        self.details = details


class ClaimRefused(RequestRefused):
    pass


class CodeInvalid(ClaimRefused):
    pass


class CodeExpired(ClaimRefused):
    pass


class CodeUsed(ClaimRefused):
    pass


# Failures the cloud reports with a 5xx and its own error body: it answered, so they are not
# an outage of the cloud; what each means for a person reading the kiosk's log. Nothing
# retries a voice start: the member is told, and taps again later.
ANSWERED: Mapping[ErrorCode, str] = {
    ErrorCode.VOICE_NOT_CONFIGURED: "the cloud has no OpenAI key; voice sessions are off until "
    "its operators set JARVIS's OPENAI_API_KEY",
    ErrorCode.OPENAI_KEY_REFUSED: "OpenAI refused the cloud's key; its operators must replace "
    "OPENAI_API_KEY",
    ErrorCode.OPENAI_REFUSED_SESSION: "OpenAI refused the session's configuration (this "
    "kiosk's voice or model); its operators must fix the kiosk's settings in the cloud",
    ErrorCode.OPENAI_RATE_LIMITED: "OpenAI is limiting the cloud's requests; sessions start "
    "again shortly",
    ErrorCode.OPENAI_UNREACHABLE: "the cloud could not reach OpenAI; sessions start again once "
    "it can",
    ErrorCode.OPENAI_UNAVAILABLE: "OpenAI failed; sessions start again once it recovers",
}


def known_code(code: str) -> ErrorCode | None:
    """``code`` as an :class:`ErrorCode`, or None when this kiosk does not know it."""
    try:
        return ErrorCode(code)
    except ValueError:
        return None


_CLAIM_ERRORS: dict[str, type[ClaimRefused]] = {
    "code_invalid": CodeInvalid,
    "invalid_code": CodeInvalid,
    "code_not_found": CodeInvalid,
    "code_expired": CodeExpired,
    "code_used": CodeUsed,
    "code_already_used": CodeUsed,
}


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


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def describe_transport_error(exc: httpx.TransportError, url: str, timeout_s: float) -> str:
    """A sentence for a person about why nothing answered at ``url``."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return f"the cloud at {url} did not answer within {timeout_s:g} s: check the network"
    lowered = text.lower()
    if any(
        s in lowered
        for s in ("name or service not known", "nodename nor servname", "name resolution")
    ):
        host = httpx.URL(url).host
        return (
            f"cannot resolve {host}: no network, no DNS, or a mistyped cloud URL; check the "
            "cable or Wi-Fi and the URL"
        )
    if "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
        return (
            f"the secure connection to {url} failed ({text}); check the URL and the kiosk's "
            "clock (`timedatectl`)"
        )
    if "refused" in lowered or "all connection attempts failed" in lowered:
        return (
            f"nothing answers at {url} (connection refused): the cloud is down, or the URL or "
            "its port is wrong"
        )
    return f"cannot reach the cloud at {url} ({text}): check the network and the URL"


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
        status = response.status_code
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        error = _error_body(response)
        where = f"{self.base_url}{path}"
        failure: CloudError | None = None
        if status == 429:
            wait = retry_after if retry_after is not None else DEFAULT_RETRY_AFTER_S
            told = error.message if error else "too many requests"
            failure = RateLimited(
                f"the cloud is limiting requests ({told}); try again in {wait:.0f} s",
                retry_after_s=wait,
            )
        elif status >= 500 and error is not None and known_code(error.code) in ANSWERED:
            # The cloud did answer: something behind it refused (the voice start's OpenAI).
            meaning = ANSWERED[ErrorCode(error.code)]
            refused = RequestRefused(
                f"the cloud could not do it: {meaning} ({error.code})",
                status=status,
                code=error.code,
                details=error.details,
            )
            refused.told, refused.retry_after_s = error.message, retry_after
            return refused
        elif status >= 500:
            told = error.message if error else f"HTTP {status}"
            failure = CloudUnavailable(
                f"the cloud at {self.base_url} failed to answer ({told})",
                status=status,
                retry_after_s=retry_after,
            )
        if failure is not None:
            return failure.with_body(error.code, error.message, error.details) if error else failure
        if error is None:
            return NotJarvisCloud(
                f"{where} answered HTTP {status} without a JARVIS error body: this URL is not "
                "a JARVIS cloud (or a proxy is in the way); check the cloud URL"
            )
        refused = RequestRefused(
            f"the cloud refused the request: {error.message}",
            status=status,
            code=error.code,
            details=error.details,
        )
        refused.told = error.message
        return refused

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
            error = _error_body(response)
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
        error = _error_body(response)
        if error is None:
            raise self._fail(response, api.PROVISION_CLAIM)
        kind = _CLAIM_ERRORS.get(error.code, ClaimRefused)
        raise kind(
            error.message, status=response.status_code, code=error.code, details=error.details
        )

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


@dataclass(frozen=True, slots=True)
class _Error:
    code: str
    message: str
    details: Any


def _error_body(response: httpx.Response) -> _Error | None:
    try:
        body = api.ErrorBody.model_validate_json(response.content)
    except ValidationError:
        return None
    return _Error(body.error.code, body.error.message, body.error.details)


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
