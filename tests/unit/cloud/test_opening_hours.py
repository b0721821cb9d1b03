"""Opening hours: parsing what gyms.opening_hours holds, open-now, next change, wording."""

from __future__ import annotations

from datetime import datetime

from cloud_api.seed.content import OPENING_HOURS_SMALL
from cloud_api.tools.hours import OpeningHours

SMALL = OpeningHours.parse(OPENING_HOURS_SMALL)
MONDAY = datetime(2026, 11, 23)  # a Monday


def at(day_offset: int, hh: int, mm: int = 0) -> datetime:
    return MONDAY.replace(day=MONDAY.day + day_offset, hour=hh, minute=mm)


def test_open_now_follows_split_intervals() -> None:
    assert SMALL.is_open(at(0, 6, 59)) is False
    assert SMALL.is_open(at(0, 7, 0)) is True
    assert SMALL.is_open(at(0, 12, 59)) is True
    assert SMALL.is_open(at(0, 13, 0)) is False  # the lunch break
    assert SMALL.is_open(at(0, 16, 30)) is True
    assert SMALL.is_open(at(6, 10, 0)) is False  # Sunday: closed


def test_next_change_crosses_breaks_and_closed_days() -> None:
    assert SMALL.next_change(at(0, 12, 0)) == at(0, 13, 0)  # open: when it closes
    assert SMALL.next_change(at(0, 14, 0)) == at(0, 16, 0)  # lunch: when it reopens
    assert SMALL.next_change(at(5, 14, 0)) == at(7, 7, 0)  # Saturday afternoon → Monday 07:00


def test_missing_days_are_unknown_not_closed() -> None:
    partial = OpeningHours.parse({"mon": [["06:00", "22:00"]], "sun": []})
    assert partial.on(1) is None
    assert partial.is_open(at(1, 12)) is None
    assert partial.next_change(at(0, 12)) == at(0, 22)
    assert partial.next_change(at(0, 23)) is None  # it would be on Tuesday, unknown
    assert partial.describe(1, "fr") == "horaires non communiqués"
    assert partial.describe(6, "en") == "closed"
    assert partial.as_output(6, "en")["closed_all_day"] is True
    assert partial.as_output(1, "en")["known"] is False


def test_malformed_entries_are_dropped_and_midnight_can_end_a_day() -> None:
    hours = OpeningHours.parse(
        {
            "mon": [["00:00", "24:00"]],
            "tue": [["22:00", "06:00"]],  # reversed: not trusted
            "wed": [["6h", "22h"], ["08:00", "12:00"]],
            "thu": "all day",
            "fri": [["07:00"]],
        }
    )
    assert hours.is_open(at(0, 23, 59)) is True
    assert hours.on(1) is None
    assert hours.on(2) == ((480, 720),)
    assert hours.on(3) is None
    assert hours.on(4) is None
    assert OpeningHours.parse("not an object").on(0) is None


def test_wording_in_french_and_english() -> None:
    assert SMALL.describe(0, "fr") == "07:00–13:00 et 16:00–21:00"
    assert SMALL.describe(0, "en") == "07:00–13:00 and 16:00–21:00"
    assert SMALL.week_lines("fr")[6] == "dimanche : fermé"
    assert SMALL.week_lines("en")[5] == "Saturday: 09:00–13:00"
    assert SMALL.week_lines("de")[0].startswith("Monday: ")  # other languages: English
