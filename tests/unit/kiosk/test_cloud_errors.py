"""How the cloud client reads Retry-After and explains transport failures to a person."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from kiosk_agent.adapters.cloud_errors import describe_transport_error, parse_retry_after

NOW = datetime(2026, 11, 22, 9, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("-5", 0.0),
        ("Sun, 22 Nov 2026 09:01:30 GMT", 90.0),
        ("Sun, 22 Nov 2026 08:59:00 GMT", 0.0),  # already past: go now
        (None, None),
        ("", None),
        ("soon", None),
    ],
)
def test_retry_after_in_seconds_or_as_a_date(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (httpx.ConnectTimeout("timed out"), "did not answer within 5 s: check the network"),
        (
            httpx.ConnectError("[Errno -2] Name or service not known"),
            "cannot resolve jarvis.example.com",
        ),
        (httpx.ConnectError("All connection attempts failed"), "nothing answers at"),
        (
            httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate has expired"),
            "check the URL and the kiosk's clock",
        ),
        (httpx.RemoteProtocolError("Server disconnected"), "cannot reach the cloud at"),
    ],
)
def test_transport_failures_are_explained(error: httpx.TransportError, says: str) -> None:
    assert says in describe_transport_error(error, "https://jarvis.example.com/health", 5.0)
