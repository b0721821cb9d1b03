"""Email over SMTP (the standard library's smtplib, in a thread: it blocks)."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

from cloud_api.config import CloudSettings
from cloud_api.delivery.messages import Message


class EmailNotConfigured(Exception):
    """No SMTP server is configured (JARVIS_SMTP_HOST)."""


def build_email(message: Message, sender: str, to: str, delivery_id: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = to
    email["Subject"] = message.subject
    # The delivery's id: a repeat after a crash carries the same Message-ID.
    email["Message-ID"] = make_msgid(idstring=delivery_id, domain="jarvis.local")
    email.set_content(message.text)
    return email


def _send(settings: CloudSettings, email: EmailMessage) -> None:
    assert settings.smtp_host
    with smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=settings.delivery_timeout_s
    ) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username and settings.smtp_password is not None:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        smtp.send_message(email)


async def send_email(settings: CloudSettings, message: Message, to: str, delivery_id: str) -> None:
    if not settings.smtp_host:
        raise EmailNotConfigured("no SMTP server: set JARVIS_SMTP_HOST to send alert emails")
    email = build_email(message, settings.smtp_from, to, delivery_id)
    await asyncio.to_thread(_send, settings, email)
