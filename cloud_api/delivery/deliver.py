"""Deliver an alert (immediately) or a day's digest to every recipient that wants it.

Each delivery is recorded; one that fails is retried by the job (with backoff) while those
already sent are not sent again. The job fails when any delivery failed, so it is retried.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

from cloud_api.data import delivery as store
from cloud_api.delivery.email import EmailNotConfigured, send_email
from cloud_api.delivery.messages import Message, alert_message, digest_message
from cloud_api.delivery.webhooks import WebhookRefused, post_webhook
from cloud_api.jobs.runtime import JobRuntime

log = logging.getLogger("jarvis.delivery")


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: list[str] = field(default_factory=list)


class DeliveriesFailed(Exception):
    """Some deliveries failed; the job retries them (the sent ones stay sent)."""


async def _deliver(
    runtime: JobRuntime,
    delivery: store.Delivery,
    message: Message,
    event: str,
    report: DeliveryReport,
) -> None:
    error: str | None = None
    try:
        if delivery.channel == "email":
            await send_email(runtime.settings, message, delivery.address, str(delivery.id))
        else:
            assert delivery.webhook_secret is not None
            await post_webhook(
                runtime.http,
                delivery.address,
                delivery.webhook_secret,
                str(delivery.id),
                event,
                delivery.payload,
                runtime.clock(),
            )
    except (EmailNotConfigured, WebhookRefused, OSError) as exc:
        error = str(exc) or type(exc).__name__
    except Exception as exc:  # smtplib's and others': recorded, then retried
        error = f"{type(exc).__name__}: {exc}"
    async with runtime.database.transaction() as conn:
        await store.delivery_done(conn, delivery.id, error)
    if error is None:
        report.sent += 1
    else:
        log.warning("delivery %s (%s) failed: %s", delivery.id, delivery.channel, error)
        report.failed.append(error)


async def deliver_alert(runtime: JobRuntime, alert_id: UUID) -> DeliveryReport:
    async with runtime.database.transaction() as conn:
        deliveries = await store.alert_deliveries(conn, alert_id)
    report = DeliveryReport()
    for delivery in deliveries:
        alert = delivery.payload["alert"]
        message = alert_message(alert, delivery.language, runtime.settings.dashboard_url)
        await _deliver(runtime, delivery, message, "alert.raised", report)
    if report.failed:
        raise DeliveriesFailed(f"{len(report.failed)} delivery(ies) failed: {report.failed[0]}")
    return report


async def deliver_digests(runtime: JobRuntime, day: date) -> DeliveryReport:
    async with runtime.database.transaction() as conn:
        deliveries = await store.digest_deliveries(conn, day)
    report = DeliveryReport()
    for delivery in deliveries:
        alerts = delivery.payload["alerts"]
        if not alerts:
            async with runtime.database.transaction() as conn:
                await store.delivery_done(conn, delivery.id, None)
            continue
        message = digest_message(
            delivery.payload["gym"], alerts, delivery.language, runtime.settings.dashboard_url
        )
        await _deliver(runtime, delivery, message, "alerts.digest", report)
    if report.failed:
        raise DeliveriesFailed(f"{len(report.failed)} digest(s) failed: {report.failed[0]}")
    return report
