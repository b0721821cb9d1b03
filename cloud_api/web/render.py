"""Rendering pages: the Jinja2 environment, its filters (in the gym's words), page errors."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


class PageError(Exception):
    """Answer with an HTML error page (404 for what RLS hides, 403, 409, 422, 429)."""

    def __init__(self, status: int, title: str, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message
        self.code = code


class Redirect(Exception):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def money(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    return f"${Decimal(value):,.{digits}f}"


def ago(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return "never"
    seconds = int(((now or datetime.now(UTC)) - value).total_seconds())
    if seconds < 0:
        return "just now"
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if unit == 'day' and n > 1 else ''} ago"
    return f"{seconds} s ago"


def when(value: datetime | date | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def duration(seconds: Any) -> str:
    if seconds is None:
        return "—"
    total = int(Decimal(seconds))
    return f"{total // 60} min {total % 60:02d} s" if total >= 60 else f"{total} s"


def percent(value: Any) -> str:
    return "—" if value is None else f"{float(value) * 100:.0f} %"


def score(value: Any, digits: int = 2) -> str:
    return "—" if value is None else f"{float(value):.{digits}f}"


def words(value: str | None) -> str:
    return "—" if not value else value.replace("_", " ")


CHURN_FACTOR_WORDS = {
    "no_visit_14_days": "has not come in for more than two weeks",
    "negative_sentiment": "sounded unhappy in more than three conversations",
    "low_engagement": "rarely talks with JARVIS (engagement below 0.3)",
    "membership_expiring": "membership ends within 30 days",
}
# The observed value behind a factor, when the pipeline stored it.
CHURN_FACTOR_VALUES = {
    "no_visit_14_days": "{:g} days since the last visit",
    "negative_sentiment": "{:g} unhappy conversations",
    "low_engagement": "engagement {:.2f}",
    "membership_expiring": "{:g} days left",
}


def churn_factor(value: Any) -> str:
    """A churn factor in words: a code, or the pipeline's {factor, weight, value}."""
    if not isinstance(value, dict):
        return CHURN_FACTOR_WORDS.get(str(value), str(value).replace("_", " "))
    code = str(value.get("factor") or value.get("code") or "")
    words = CHURN_FACTOR_WORDS.get(code, code.replace("_", " "))
    details = []
    observed = value.get("value")
    if observed is not None and code in CHURN_FACTOR_VALUES:
        try:
            details.append(CHURN_FACTOR_VALUES[code].format(float(observed)))
        except (TypeError, ValueError):
            details.append(str(observed))
    if value.get("weight") is not None:
        details.append(f"+{float(value['weight']):.1f} to the risk")
    return f"{words} ({', '.join(details)})" if details else words


def with_query(path: str, **params: Any) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


def next_page(path: str, cursor: str | None, **params: Any) -> str | None:
    """The link to a list's next page (its filters kept), or None on the last page."""
    return with_query(path, **params, cursor=cursor) if cursor else None


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "svg"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        money=money,
        ago=ago,
        when=when,
        duration=duration,
        percent=percent,
        score=score,
        words=words,
        churn_factor=churn_factor,
    )
    env.globals.update(with_query=with_query, today=lambda: datetime.now(UTC).date())
    return env


class Renderer:
    def __init__(self) -> None:
        self.env = build_environment()

    def page(
        self, request: Request, template: str, context: dict[str, Any], status: int = 200
    ) -> HTMLResponse:
        body = self.env.get_template(template).render(request=request, **context)
        return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
