"""A gym's opening hours: parsed from `gyms.opening_hours`, asked "open now?", said in fr/en.

`gyms.opening_hours` is `{"mon": [["06:00", "22:00"]], ..., "sun": []}`: each day a list of
open intervals in local time. An empty list is a closed day; a missing day is *not given*
(the assistant says it does not know rather than "closed"). "24:00" may end an interval.
Malformed intervals are dropped rather than trusted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = {
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
CLOSED = {"fr": "fermé", "en": "closed"}
NOT_GIVEN = {"fr": "horaires non communiqués", "en": "hours not given"}
_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")

Interval = tuple[int, int]
"""Minutes since local midnight: [start, end)."""


def _minutes(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    match = _CLOCK.match(value)
    if match is None:
        return None
    minutes = int(match.group(1)) * 60 + int(match.group(2))
    return minutes if minutes <= 24 * 60 else None


def clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def text_language(language: str | None) -> str:
    """The language our own sentences use: French or English (the default)."""
    return "fr" if language == "fr" else "en"


@dataclass(frozen=True)
class OpeningHours:
    days: Mapping[str, tuple[Interval, ...] | None]

    @classmethod
    def parse(cls, raw: Any) -> OpeningHours:
        days: dict[str, tuple[Interval, ...] | None] = {}
        source = raw if isinstance(raw, Mapping) else {}
        for day in DAYS:
            entry = source.get(day)
            if not isinstance(entry, list):
                days[day] = None
                continue
            intervals: list[Interval] = []
            for pair in entry:
                if not isinstance(pair, list | tuple) or len(pair) != 2:
                    continue
                start, end = _minutes(pair[0]), _minutes(pair[1])
                if start is not None and end is not None and start < end:
                    intervals.append((start, end))
            days[day] = None if entry and not intervals else tuple(sorted(intervals))
        return cls(days)

    def on(self, weekday: int) -> tuple[Interval, ...] | None:
        """Intervals of a weekday (0 = Monday); None when not given."""
        return self.days[DAYS[weekday]]

    def is_open(self, local: datetime) -> bool | None:
        intervals = self.on(local.weekday())
        if intervals is None:
            return None
        now = local.hour * 60 + local.minute
        return any(start <= now < end for start, end in intervals)

    def next_change(self, local: datetime) -> datetime | None:
        """The next local time the gym opens or closes, within a week; None if unknown."""
        now_open = self.is_open(local)
        if now_open is None:
            return None
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        for offset in range(8):
            day = midnight + timedelta(days=offset)
            intervals = self.on(day.weekday())
            if intervals is None:
                return None
            for start, end in intervals:
                edge = end if now_open else start
                at = day + timedelta(minutes=edge)
                if at > local:
                    return at
        return None

    def describe(self, weekday: int, language: str) -> str:
        lang = text_language(language)
        intervals = self.on(weekday)
        if intervals is None:
            return NOT_GIVEN[lang]
        if not intervals:
            return CLOSED[lang]
        joiner = " et " if lang == "fr" else " and "
        return joiner.join(f"{clock(s)}–{clock(e)}" for s, e in intervals)

    def week_lines(self, language: str) -> list[str]:
        lang = text_language(language)
        colon = " : " if lang == "fr" else ": "
        return [f"{DAY_NAMES[lang][d]}{colon}{self.describe(d, lang)}" for d in range(7)]

    def as_output(self, weekday: int, language: str) -> dict[str, Any]:
        intervals = self.on(weekday)
        return {
            "day": DAYS[weekday],
            "day_name": DAY_NAMES[text_language(language)][weekday],
            "known": intervals is not None,
            "closed_all_day": intervals == (),
            "intervals": [[clock(s), clock(e)] for s, e in intervals or ()],
            "text": self.describe(weekday, language),
        }
