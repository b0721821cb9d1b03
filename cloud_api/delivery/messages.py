"""Alert and digest messages from Jinja2 templates, in French or English."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).with_name("templates")
PRIORITIES = {
    "fr": {"low": "basse", "medium": "moyenne", "high": "haute", "urgent": "urgente"},
    "en": {"low": "low", "medium": "medium", "high": "high", "urgent": "urgent"},
}
SUBJECT_PREFIX = {"fr": "[JARVIS] ", "en": "[JARVIS] "}
DIGEST_SUBJECT = {
    "fr": "[JARVIS] {n} alerte(s) hier — {gym}",
    "en": "[JARVIS] {n} alert(s) yesterday — {gym}",
}


@dataclass(frozen=True)
class Message:
    subject: str
    text: str


@cache
def _environment() -> Environment:
    # Plain-text emails: nothing to escape; StrictUndefined turns a template typo into an error.
    return Environment(  # noqa: S701 - text templates, never rendered as HTML
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=False,
    )


def _lang(language: str) -> str:
    return "en" if language == "en" else "fr"


def alert_message(alert: dict[str, Any], language: str, dashboard_url: str) -> Message:
    lang = _lang(language)
    link = f"{dashboard_url.rstrip('/')}/dashboard/alerts/{alert['id']}"
    text = (
        _environment()
        .get_template(f"alert.{lang}.txt.j2")
        .render(alert=alert, priorities=PRIORITIES[lang], link=link)
    )
    return Message(SUBJECT_PREFIX[lang] + str(alert["title"]), text)


def digest_message(
    gym: dict[str, Any], alerts: list[dict[str, Any]], language: str, dashboard_url: str
) -> Message:
    lang = _lang(language)
    link = f"{dashboard_url.rstrip('/')}/dashboard/alerts"
    text = (
        _environment()
        .get_template(f"digest.{lang}.txt.j2")
        .render(gym=gym, alerts=alerts, priorities=PRIORITIES[lang], link=link)
    )
    return Message(DIGEST_SUBJECT[lang].format(n=len(alerts), gym=gym["name"]), text)
