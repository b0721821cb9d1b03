"""The cloud's failures as the kiosk sees them: httpx's exceptions and the cloud's error
answers translated, at the boundary, into a small hierarchy the rest of the kiosk (and a
person reading a message) can act on::

    CloudError
    ├── CloudUnreachable      no answer: no network, DNS, refused, timed out, TLS failed
    ├── NotJarvisCloud        something answered, but not a JARVIS cloud
    ├── CloudUnavailable      the cloud answered 5xx (retry later; may carry retry_after_s)
    │                         — unless its error body says what refused (``ANSWERED``: the
    │                         voice start's OpenAI), then RequestRefused, never retried
    ├── RateLimited           429: wait ``retry_after_s`` seconds
    ├── CredentialRejected    the kiosk's credential is refused (revoked, re-provisioned)
    └── RequestRefused        any other 4xx, with the cloud's ``code`` and ``message``
        └── ClaimRefused      a provisioning code was refused
            ├── CodeInvalid   no such code (or not a code at all)
            ├── CodeExpired   the code is past its validity
            └── CodeUsed      the code was already claimed

The class follows the HTTP status; the cloud's code (``contract.errors.ErrorCode``) refines
it, always through a table keyed by the enum. A code this kiosk does not know yet (a newer
cloud) keeps its text in ``code`` and is handled by its status class, never guessed from
its spelling.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import ValidationError

from contract import kiosk_api as api
from contract.errors import HTTP_STATUS, ErrorCode

DEFAULT_RETRY_AFTER_S = 30.0


class CloudError(Exception):
    """Talking to the cloud failed; ``str(error)`` is a sentence for a person.

    When the cloud answered with its error body, ``code`` is its code as sent, ``told`` its
    own sentence (for voice refusals, one a member can hear) and ``details`` its details;
    ``status`` is the HTTP status of any answer.
    """

    retry_after_s: float | None = None
    status: int | None = None
    code: str | None = None
    told: str | None = None
    details: Any = None

    @property
    def error_code(self) -> ErrorCode | None:
        """The cloud's code when this kiosk knows it, else None (handle by ``status``)."""
        return known_code(self.code)


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
        self.status = 429
        self.retry_after_s = retry_after_s


class CredentialRejected(CloudError):
    """The cloud refuses this kiosk's credential."""


class RequestRefused(CloudError):
    def __init__(self, message: str, *, status: int, code: str, details: Any = None):
        super().__init__(message)
        self.status = status
        self.code = code
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


def known_code(code: str | None) -> ErrorCode | None:
    """``code`` as an :class:`ErrorCode`, or None when it is not one this kiosk knows."""
    if code is None:
        return None
    try:
        return ErrorCode(code)
    except ValueError:
        return None


_CLAIM_REFUSALS: Mapping[ErrorCode, type[ClaimRefused]] = {
    ErrorCode.CODE_MALFORMED: CodeInvalid,
    ErrorCode.CODE_INVALID: CodeInvalid,
    ErrorCode.CODE_EXPIRED: CodeExpired,
    ErrorCode.CODE_USED: CodeUsed,
}
# For a refusal code a newer cloud may add: the kind the contract gives that status.
_CLAIM_REFUSALS_BY_STATUS: Mapping[int, type[ClaimRefused]] = {
    HTTP_STATUS[code]: kind for code, kind in _CLAIM_REFUSALS.items()
}


def claim_refusal(status: int, code: str, message: str, details: Any) -> ClaimRefused:
    """The error for a refused provisioning claim (a 4xx other than 429)."""
    known = known_code(code)
    kind = _CLAIM_REFUSALS.get(known) if known is not None else None
    if kind is None:
        kind = _CLAIM_REFUSALS_BY_STATUS.get(status, ClaimRefused)
    return kind(message, status=status, code=code, details=details)


def error_for_answer(response: httpx.Response, base_url: str, path: str) -> CloudError:
    """The error for a non-2xx answer of the cloud at ``base_url``."""
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    body = error_body(response)
    told = body.message if body else None
    failure: CloudError
    if status == 429:
        wait = retry_after if retry_after is not None else DEFAULT_RETRY_AFTER_S
        failure = RateLimited(
            f"the cloud is limiting requests ({told or 'too many requests'}); try again in "
            f"{wait:.0f} s",
            retry_after_s=wait,
        )
    elif status >= 500 and body is not None and known_code(body.code) in ANSWERED:
        # The cloud did answer: something behind it refused (the voice start's OpenAI).
        meaning = ANSWERED[ErrorCode(body.code)]
        failure = RequestRefused(
            f"the cloud could not do it: {meaning} ({body.code})", status=status, code=body.code
        )
        failure.retry_after_s = retry_after
    elif status >= 500:
        failure = CloudUnavailable(
            f"the cloud at {base_url} failed to answer ({told or f'HTTP {status}'}); it will "
            "be retried",
            status=status,
            retry_after_s=retry_after,
        )
    elif body is None:
        failure = NotJarvisCloud(
            f"{base_url}{path} answered HTTP {status} without a JARVIS error body: this URL is "
            "not a JARVIS cloud (or a proxy is in the way); check the cloud URL"
        )
        failure.status = status
        return failure
    else:
        failure = RequestRefused(
            f"the cloud refused the request: {body.message}", status=status, code=body.code
        )
    if body is not None:
        failure.code, failure.told, failure.details = body.code, body.message, body.details
    return failure


def error_body(response: httpx.Response) -> api.ErrorDetail | None:
    """The cloud's error body, or None when the answer does not carry one."""
    try:
        return api.ErrorBody.model_validate_json(response.content).error
    except ValidationError:
        return None


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
