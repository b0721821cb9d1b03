"""Webhooks signed per the Standard Webhooks spec (the `standardwebhooks` library)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook


class WebhookRefused(Exception):
    """The receiver answered with an error status or could not be reached."""


def signed_request(
    secret: str, delivery_id: str, event_type: str, data: dict[str, Any], at: datetime
) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of one webhook: `webhook-id` is the delivery's id, so a receiver can
    drop a repeat."""
    body = json.dumps(
        {"type": event_type, "timestamp": at.isoformat(), "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    signature = Webhook(secret).sign(delivery_id, at, body)
    headers = {
        "content-type": "application/json",
        "webhook-id": delivery_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "user-agent": "JARVIS-Webhooks/1",
    }
    return body.encode(), headers


async def post_webhook(
    client: httpx.AsyncClient,
    url: str,
    secret: str,
    delivery_id: str,
    event_type: str,
    data: dict[str, Any],
    at: datetime,
) -> None:
    body, headers = signed_request(secret, delivery_id, event_type, data, at)
    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise WebhookRefused(f"{url} could not be reached: {type(exc).__name__}") from exc
    if response.status_code >= 300:
        raise WebhookRefused(f"{url} answered {response.status_code}")
