"""Reading a gym management system's member export (sans-I/O: bytes in, rows and problems out).

The file is CSV in UTF-8 (with or without BOM) or Windows-1252, comma or semicolon separated
(French exports use semicolons). A mapping says which column holds which field; it is guessed
from the header the first time and remembered per gym. Every line is checked — badge ids
through contract.badge with the gym's reader rules, dates (ISO or DD/MM/YYYY), status words
in French and English, e-mails, duplicates within the file — and problems are reported by
line number (the header is line 1). Nothing is written unless the whole file is clean.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from contract.badge import BadgeIdError, BadgeRules, normalize_badge_id

MAX_PROBLEMS = 200  # reported; counting goes on


@dataclass(frozen=True)
class Field:
    label: str
    required: bool = False
    guesses: tuple[str, ...] = ()


FIELDS: dict[str, Field] = {
    "external_id": Field(
        "Member number in your system",
        guesses=(
            "external id",
            "member id",
            "id adherent",
            "n adherent",
            "numero adherent",
            "matricule",
            "id",
            "member number",
            "client id",
            "code client",
        ),
    ),
    "badge_id": Field(
        "Badge",
        True,
        (
            "badge",
            "badge id",
            "n badge",
            "numero de badge",
            "badge number",
            "rfid",
            "card",
            "carte",
            "card number",
            "uid",
            "tag",
        ),
    ),
    "first_name": Field(
        "First name", True, ("first name", "firstname", "prenom", "given name", "first")
    ),
    "last_name": Field(
        "Last name", guesses=("last name", "lastname", "nom", "surname", "family name", "name")
    ),
    "email": Field("E-mail", guesses=("email", "e-mail", "mail", "courriel", "adresse email")),
    "phone": Field(
        "Phone", guesses=("phone", "telephone", "tel", "mobile", "portable", "phone number")
    ),
    "membership_type": Field(
        "Membership",
        guesses=(
            "membership",
            "membership type",
            "abonnement",
            "formule",
            "plan",
            "type abonnement",
            "offre",
        ),
    ),
    "member_since": Field(
        "Member since",
        guesses=(
            "member since",
            "date inscription",
            "inscription",
            "start date",
            "date debut",
            "debut",
            "joined",
        ),
    ),
    "membership_expires_on": Field(
        "Membership ends",
        guesses=(
            "membership expires",
            "expires",
            "expiry",
            "end date",
            "date fin",
            "fin",
            "date expiration",
            "expiration",
            "fin abonnement",
            "valid until",
        ),
    ),
    "status": Field(
        "Status (active / suspended)", guesses=("status", "statut", "etat", "active", "actif")
    ),
    "language": Field("Language", guesses=("language", "langue", "lang", "locale")),
}

ACTIVE = {
    "active",
    "actif",
    "active member",
    "yes",
    "oui",
    "1",
    "true",
    "vrai",
    "ok",
    "valid",
    "valide",
}
SUSPENDED = {
    "suspended",
    "suspendu",
    "inactive",
    "inactif",
    "no",
    "non",
    "0",
    "false",
    "faux",
    "blocked",
    "bloque",
    "frozen",
    "gele",
}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LANGUAGE = re.compile(r"^[a-z]{2}$")
LIMITS = {
    "external_id": 100,
    "first_name": 100,
    "last_name": 100,
    "email": 254,
    "phone": 40,
    "membership_type": 50,
}


class FileRefused(ValueError):
    """The file as a whole cannot be read (not CSV, no header, empty)."""


@dataclass(frozen=True)
class Problem:
    line: int
    field: str
    problem: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "problem": self.problem}


@dataclass(frozen=True)
class Mapping:
    columns: dict[str, str]  # our field → the file's header
    badge_rules: BadgeRules = field(default_factory=BadgeRules)
    delimiter: str = ","

    def missing(self) -> list[str]:
        return [name for name, f in FIELDS.items() if f.required and not self.columns.get(name)]


@dataclass
class Validation:
    rows: list[dict[str, Any]] = field(default_factory=list)  # each with its "line"
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    total: int = 0

    def refuse(self, problem: Problem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    @property
    def ok(self) -> bool:
        return self.problem_count == 0 and self.total > 0


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def header_of(text: str, delimiter: str | None = None) -> tuple[list[str], str]:
    first = text.split("\n", 1)[0]
    if not first.strip():
        raise FileRefused("the file is empty, or its first line (the header) is blank")
    delimiter = delimiter or sniff_delimiter(first)
    header = next(csv.reader([first.rstrip("\r")], delimiter=delimiter))
    header = [h.strip() for h in header]
    if len(set(header)) != len(header):
        raise FileRefused("two columns of the header have the same name: rename one")
    return header, delimiter


@lru_cache(maxsize=1024)
def _plain(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", ascii_text.lower()).strip()


def guess_mapping(header: list[str], remembered: dict[str, str] | None = None) -> dict[str, str]:
    """Our field → header: the gym's remembered choice where that column still exists, else
    the header that reads like the field."""
    chosen: dict[str, str] = {}
    taken: set[str] = set()
    for name in FIELDS:
        if remembered and remembered.get(name) in header:
            chosen[name] = remembered[name]
            taken.add(remembered[name])
    plain = {h: _plain(h) for h in header}
    for name, spec in FIELDS.items():
        if name in chosen:
            continue
        for guess in spec.guesses:
            wanted = _plain(guess)
            match = next((h for h in header if plain[h] == wanted and h not in taken), None)
            if match:
                chosen[name] = match
                taken.add(match)
                break
    return chosen


ISO_DATE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$")
DAY_FIRST_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")


@lru_cache(maxsize=8192)
def _date(value: str) -> date:
    """ISO (2026-03-31) or day first as French exports write it (31/03/2026); dates repeat a
    lot in an export, hence the cache (strptime is the slow part of a 100,000-line file)."""
    iso, day_first = ISO_DATE.match(value), DAY_FIRST_DATE.match(value)
    try:
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        if day_first:
            return date(int(day_first[3]), int(day_first[2]), int(day_first[1]))
    except ValueError:
        pass
    raise ValueError(f"{value!r} is not a date (write 2026-03-31 or 31/03/2026)")


def _status(raw: str) -> bool:
    word = _plain(raw)
    if word in ACTIVE:
        return True
    if word in SUSPENDED:
        return False
    raise ValueError(f"{raw!r} is neither active nor suspended")


def _email(raw: str) -> str:
    if not EMAIL.match(raw):
        raise ValueError(f"{raw!r} is not an e-mail address")
    return raw.lower()


def _language(raw: str) -> str:
    code = raw.lower()[:2]
    if not LANGUAGE.match(code):
        raise ValueError(f"{raw!r} is not a language (fr, en, es…)")
    return code


def _text(raw: str) -> str:
    return raw


@dataclass(frozen=True)
class _Column:
    """One mapped column, resolved once per file: where it goes and how it is read."""

    name: str
    key: str  # the row's key (status → is_active)
    header: str
    read: Callable[[str], Any]
    required: bool
    limit: int | None


def _columns(mapping: Mapping) -> list[_Column]:
    def badge(raw: str) -> str:
        return normalize_badge_id(raw, mapping.badge_rules)

    readers: dict[str, Callable[[str], Any]] = {
        "badge_id": badge,
        "member_since": _date,
        "membership_expires_on": _date,
        "status": _status,
        "email": _email,
        "language": _language,
    }
    return [
        _Column(
            name,
            "is_active" if name == "status" else name,
            header,
            readers.get(name, _text),
            FIELDS[name].required,
            LIMITS.get(name),
        )
        for name, header in mapping.columns.items()
    ]


def _row(
    values: dict[str, str], columns: list[_Column], line: int, check: Validation
) -> dict[str, Any] | None:
    row: dict[str, Any] = {"line": line}
    ok = True
    for column in columns:
        raw = (values.get(column.header) or "").strip()
        if not raw:
            if column.required:
                ok = False
                check.refuse(
                    Problem(
                        line,
                        column.name,
                        f"{FIELDS[column.name].label} is empty (column {column.header!r})",
                    )
                )
            continue
        if column.limit is not None and len(raw) > column.limit:
            ok = False
            check.refuse(Problem(line, column.name, f"longer than {column.limit} characters"))
            continue
        try:
            row[column.key] = column.read(raw)
        except (BadgeIdError, ValueError) as exc:
            ok = False
            check.refuse(Problem(line, column.name, str(exc)))
    return row if ok else None


def validate(
    text: str,
    mapping: Mapping,
    *,
    progress: Callable[[int], None] | None = None,
) -> Validation:
    """Every data line checked; `rows` holds the clean ones (all of them when `ok`)."""
    check = Validation()
    missing = mapping.missing()
    if missing:
        for name in missing:
            check.refuse(Problem(1, name, f"choose the column that holds {FIELDS[name].label}"))
        return check
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=mapping.delimiter)
    if reader.fieldnames is None:
        raise FileRefused("the file has no header line")
    absent = [h for h in mapping.columns.values() if h not in reader.fieldnames]
    if absent:
        raise FileRefused(f"the file has no column {absent[0]!r}: check the mapping")
    badges: dict[str, int] = {}
    external: dict[str, int] = {}
    columns = _columns(mapping)
    for values in _records(reader):
        line = reader.line_num
        check.total += 1
        row = _row(values, columns, line, check)
        if progress is not None and check.total % 5000 == 0:
            progress(check.total)
        if row is None:
            continue
        first = badges.setdefault(row["badge_id"], line)
        if first != line:
            check.refuse(
                Problem(line, "badge_id", f"badge {row['badge_id']} is also on line {first}")
            )
            continue
        if row.get("external_id"):
            seen = external.setdefault(row["external_id"], line)
            if seen != line:
                check.refuse(
                    Problem(
                        line, "external_id", f"member {row['external_id']} is also on line {seen}"
                    )
                )
                continue
        check.rows.append(row)
    if check.total == 0:
        check.refuse(Problem(2, "file", "the file has a header but no member"))
    if progress is not None:
        progress(check.total)
    return check


def _records(reader: csv.DictReader[str]) -> Iterator[dict[str, str]]:
    for record in reader:
        if any((v or "").strip() for v in record.values() if isinstance(v, str)):
            yield record
