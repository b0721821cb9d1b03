"""The kiosk's local store: one SQLite file (sqlite-utils) in WAL mode under the state folder.

What it keeps:

- ``outbox``: session records and events, written before any upload and deleted only once
  the cloud has answered for them (stored or duplicate). A record the cloud will never take
  is marked ``refused`` and kept aside for inspection.
- ``members``: the offline member cache, delta-synced from the cloud (the cursor is in ``kv``).
- ``kv``: desired config from the cloud, the agent's published status, the member sync
  cursor, store incidents.
- ``heartbeats``: recent heartbeats, for ``status`` and troubleshooting.

Durability: ``synchronous=FULL`` in WAL mode makes every commit fsync the log before it
returns, so a record that ``enqueue`` accepted survives ``kill -9`` and power loss. Each
enqueue is its own transaction. Deleting a delivered record is not urgent: if the deletion is
lost the record is sent again and the cloud answers "duplicate".

Bounded size: past ``store.max_size_mb``, heartbeat history is dropped first, then refused
records, then the oldest undelivered events; undelivered session records are never dropped.

A corrupted file is moved aside (``kiosk.db.corrupt-<time>``), what can be read of its
outbox is copied into a fresh store, and the incident is kept so heartbeats report it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils
from pydantic import ValidationError

from contract.kiosk_api import KioskConfig, KioskEvent, MemberCard, SessionRecord
from kiosk_agent.adapters.store_base import (
    RecordKind,
    StoreIncident,
    connect,
    schema_version,
    translate,
)
from kiosk_agent.config import StoreSection

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class OutboxItem:
    seq: int
    id: str
    kind: RecordKind
    payload: str
    attempts: int


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    pending_sessions: int
    pending_events: int
    refused: int

    @property
    def depth(self) -> int:
        return self.pending_sessions + self.pending_events


@dataclass(frozen=True, slots=True)
class BudgetReport:
    used_bytes: int
    heartbeats_dropped: int = 0
    refused_dropped: int = 0
    events_dropped: int = 0
    over_budget: bool = False
    """Still over budget after dropping all that may be dropped (undelivered sessions)."""


@dataclass(frozen=True, slots=True)
class DiskStatus:
    free_mb: float
    used_percent: float
    nearly_full: bool


def disk_status(path: Path, settings: StoreSection) -> DiskStatus:
    """Free space on the disk holding ``path`` and whether it is nearly full."""
    st = os.statvfs(path)
    total = st.f_blocks * st.f_frsize
    free = st.f_bavail * st.f_frsize
    used_percent = 100.0 * (1 - free / total) if total else 100.0
    free_mb = free / 1_048_576
    nearly_full = free_mb < settings.min_free_mb or used_percent >= settings.nearly_full_percent
    return DiskStatus(free_mb=free_mb, used_percent=used_percent, nearly_full=nearly_full)


def _now() -> datetime:
    return datetime.now(UTC)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


class KioskStore:
    """Synchronous; one connection. The agent runs it on one dedicated thread."""

    def __init__(
        self,
        path: Path,
        settings: StoreSection,
        *,
        incident: StoreIncident | None = None,
        conn: sqlite3.Connection | None = None,
    ) -> None:
        self.path = path
        self.settings = settings
        self.incident = incident
        self._conn = conn if conn is not None else connect(path)
        self.db = sqlite_utils.Database(self._conn, execute_plugins=False)

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        try:
            self._conn.close()
        except sqlite3.Error as exc:  # the data is committed; say so rather than hide it
            logger.error("closing the store %s failed: %s", self.path, exc)

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            translated = translate(exc, self.path)
            if translated is None:
                raise
            raise translated from exc

    def _write(self, action: Callable[[], T]) -> T:
        """Run ``action`` in one transaction (committed, hence fsynced, on return)."""
        with self._guard(), self.db.atomic():
            return action()

    def quick_check(self) -> str:
        with self._guard():
            rows = self._conn.execute("pragma quick_check").fetchall()
        return "; ".join(str(r[0]) for r in rows)

    def schema_version(self) -> int:
        with self._guard():
            return schema_version(self._conn)

    # -- outbox -----------------------------------------------------------------------------

    def enqueue_session(self, record: SessionRecord, *, now: datetime | None = None) -> bool:
        """Keep the record durably; False if a record with its id is already kept."""
        return self.enqueue(RecordKind.SESSION, str(record.id), record.model_dump_json(), now=now)

    def enqueue_event(self, event: KioskEvent, *, now: datetime | None = None) -> bool:
        return self.enqueue(RecordKind.EVENT, str(event.id), event.model_dump_json(), now=now)

    def enqueue(
        self, kind: RecordKind, record_id: str, payload: str, *, now: datetime | None = None
    ) -> bool:
        at = (now or _now()).isoformat()

        def insert() -> bool:
            cursor = self._conn.execute(
                "insert or ignore into outbox (id, kind, payload, created_at, size) "
                "values (?, ?, ?, ?, ?)",
                (record_id, kind.value, payload, at, len(payload)),
            )
            return cursor.rowcount == 1

        return self._write(insert)

    def pending(self, kind: RecordKind, limit: int) -> list[OutboxItem]:
        """The oldest undelivered records of ``kind``, oldest first."""
        with self._guard():
            rows = self._conn.execute(
                "select seq, id, payload, attempts from outbox "
                "where status = 'pending' and kind = ? order by seq limit ?",
                (kind.value, limit),
            ).fetchall()
        return [OutboxItem(r[0], r[1], kind, r[2], r[3]) for r in rows]

    def mark_delivered(self, ids: Sequence[str]) -> int:
        if not ids:
            return 0

        def delete() -> int:
            marks = ",".join("?" * len(ids))
            cursor = self._conn.execute(f"delete from outbox where id in ({marks})", tuple(ids))
            return cursor.rowcount

        return self._write(delete)

    def mark_refused(self, refusals: Sequence[tuple[str, str]]) -> None:
        """Set records aside for good: (id, why)."""
        if not refusals:
            return

        def update() -> None:
            self._conn.executemany(
                "update outbox set status = 'refused', last_error = ? where id = ?",
                [(why[:2000], rid) for rid, why in refusals],
            )

        self._write(update)

    def note_failed_attempt(self, ids: Sequence[str], error: str) -> None:
        if not ids:
            return

        def update() -> None:
            self._conn.executemany(
                "update outbox set attempts = attempts + 1, last_error = ? where id = ?",
                [(error[:2000], rid) for rid in ids],
            )

        self._write(update)

    def outbox_counts(self) -> OutboxCounts:
        with self._guard():
            rows = self._conn.execute(
                "select status, kind, count(*) from outbox group by status, kind"
            ).fetchall()
        counts = {(r[0], r[1]): int(r[2]) for r in rows}
        return OutboxCounts(
            pending_sessions=counts.get(("pending", "session"), 0),
            pending_events=counts.get(("pending", "event"), 0),
            refused=counts.get(("refused", "session"), 0) + counts.get(("refused", "event"), 0),
        )

    def refused(self, limit: int = 20) -> list[tuple[str, str, str | None]]:
        """Refused records (id, kind, why), newest first."""
        with self._guard():
            rows = self._conn.execute(
                "select id, kind, last_error from outbox where status = 'refused' "
                "order by seq desc limit ?",
                (limit,),
            ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    # -- member cache -----------------------------------------------------------------------

    def save_members(
        self, cards: Sequence[MemberCard], *, cursor: str | None, now: datetime | None = None
    ) -> None:
        """Upsert cards (and move the sync cursor) in one transaction."""
        at = (now or _now()).isoformat()

        def upsert() -> None:
            self._conn.executemany(
                "insert into members (badge_id, member_id, status, card, synced_at) "
                "values (?, ?, ?, ?, ?) on conflict (badge_id) do update set "
                "member_id = excluded.member_id, status = excluded.status, "
                "card = excluded.card, synced_at = excluded.synced_at",
                [
                    (
                        c.badge_id,
                        str(c.member_id) if c.member_id else None,
                        c.status.value,
                        c.model_dump_json(),
                        at,
                    )
                    for c in cards
                ],
            )
            if cursor is not None:
                self._set(self._conn, "member_sync_cursor", cursor, at)
                self._set(self._conn, "member_sync_at", at, at)

        self._write(upsert)

    def member(self, badge_id: str) -> MemberCard | None:
        with self._guard():
            row = self._conn.execute(
                "select card from members where badge_id = ?", (badge_id,)
            ).fetchone()
        if row is None:
            return None
        try:
            return MemberCard.model_validate_json(row[0])
        except ValidationError:
            logger.warning("member cache entry for a badge is unreadable; ignoring it")
            return None

    def member_count(self) -> int:
        with self._guard():
            return int(self._conn.execute("select count(*) from members").fetchone()[0])

    def member_cursor(self) -> str | None:
        return self.get("member_sync_cursor")

    def forget_member_cursor(self) -> None:
        """The next sync starts from the beginning (cards are upserted: nothing doubles)."""
        self.put({"member_sync_cursor": None})

    def member_synced_at(self) -> datetime | None:
        value = self.get("member_sync_at")
        return datetime.fromisoformat(value) if value else None

    # -- key-value state --------------------------------------------------------------------

    @staticmethod
    def _set(conn: sqlite3.Connection, key: str, value: str, at: str) -> None:
        conn.execute(
            "insert into kv (key, value, updated_at) values (?, ?, ?) on conflict (key) do "
            "update set value = excluded.value, updated_at = excluded.updated_at",
            (key, value, at),
        )

    def put(self, values: dict[str, str | None], *, now: datetime | None = None) -> None:
        """Set (or, with None, remove) several keys in one transaction."""
        at = (now or _now()).isoformat()

        def write() -> None:
            for key, value in values.items():
                if value is None:
                    self._conn.execute("delete from kv where key = ?", (key,))
                else:
                    self._set(self._conn, key, value, at)

        self._write(write)

    def get(self, key: str) -> str | None:
        with self._guard():
            row = self._conn.execute("select value from kv where key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def get_all(self, prefix: str = "") -> dict[str, str]:
        with self._guard():
            rows = self._conn.execute(
                "select key, value from kv where key like ? escape '\\'",
                (prefix.replace("%", "\\%").replace("_", "\\_") + "%",),
            ).fetchall()
        return {str(r[0]): str(r[1]) for r in rows}

    def save_desired_config(self, config: KioskConfig, *, now: datetime | None = None) -> None:
        self.put({"desired_config": config.model_dump_json()}, now=now)

    def desired_config(self) -> KioskConfig | None:
        value = self.get("desired_config")
        if value is None:
            return None
        try:
            return KioskConfig.model_validate_json(value)
        except ValidationError:
            logger.warning(
                "the saved desired config is unreadable; using defaults until the next heartbeat"
            )
            return None

    # -- heartbeat history ------------------------------------------------------------------

    def log_heartbeat(
        self, *, sent_at: datetime, ok: bool, payload: str, error: str | None
    ) -> None:
        keep = self.settings.heartbeat_history_rows

        def write() -> None:
            if keep > 0:
                self._conn.execute(
                    "insert into heartbeats (sent_at, ok, payload, error) values (?, ?, ?, ?)",
                    (sent_at.isoformat(), int(ok), payload, error),
                )
            self._conn.execute(
                "delete from heartbeats where seq <= (select max(seq) from heartbeats) - ?",
                (keep,),
            )

        self._write(write)

    def last_heartbeats(self, limit: int = 5) -> list[tuple[datetime, bool, str | None]]:
        with self._guard():
            rows = self._conn.execute(
                "select sent_at, ok, error from heartbeats order by seq desc limit ?", (limit,)
            ).fetchall()
        return [(datetime.fromisoformat(r[0]), bool(r[1]), r[2]) for r in rows]

    # -- size -------------------------------------------------------------------------------

    def used_bytes(self) -> int:
        with self._guard():
            page_size = self._conn.execute("pragma page_size").fetchone()[0]
            pages = self._conn.execute("pragma page_count").fetchone()[0]
            free = self._conn.execute("pragma freelist_count").fetchone()[0]
        return int((pages - free) * page_size)

    def enforce_budget(self) -> BudgetReport:
        """Drop what may be dropped, in order, until the store fits its budget."""
        budget = int(self.settings.max_size_mb * 1_048_576)
        used = self.used_bytes()
        if used <= budget:
            return BudgetReport(used_bytes=used)
        dropped = {"heartbeats": 0, "refused": 0, "events": 0}

        def drop(what: str, sql: str) -> None:
            dropped[what] += self._write(lambda: self._conn.execute(sql).rowcount)

        drop("heartbeats", "delete from heartbeats")
        if self.used_bytes() > budget:
            drop("refused", "delete from outbox where status = 'refused'")
        while self.used_bytes() > budget:
            before = dropped["events"]
            drop(
                "events",
                "delete from outbox where seq in (select seq from outbox where status = "
                "'pending' and kind = 'event' order by seq limit 100)",
            )
            if dropped["events"] == before:
                break
        used = self.used_bytes()
        report = BudgetReport(
            used_bytes=used,
            heartbeats_dropped=dropped["heartbeats"],
            refused_dropped=dropped["refused"],
            events_dropped=dropped["events"],
            over_budget=used > budget,
        )
        logger.warning(
            "store over its %.0f MB budget: dropped %d heartbeats, %d refused records and "
            "%d undelivered events; %s",
            self.settings.max_size_mb,
            report.heartbeats_dropped,
            report.refused_dropped,
            report.events_dropped,
            "still over budget with undelivered session records (kept)"
            if report.over_budget
            else f"now {used / 1_048_576:.1f} MB",
        )
        return report

    # -- incidents --------------------------------------------------------------------------

    def record_incident(self, incident: StoreIncident) -> None:
        self.incident = incident
        self.put(
            {
                "store_incident": _json(
                    {
                        "at": incident.at.isoformat(),
                        "message": incident.message,
                        "quarantined": incident.quarantined,
                        "salvaged": incident.salvaged,
                    }
                )
            }
        )

    def last_incident(self) -> StoreIncident | None:
        value = self.get("store_incident")
        if value is None:
            return None
        data = json.loads(value)
        return StoreIncident(
            at=datetime.fromisoformat(data["at"]),
            message=str(data["message"]),
            quarantined=data.get("quarantined"),
            salvaged=int(data.get("salvaged", 0)),
        )

    def recent_incident(self, now: datetime | None = None) -> StoreIncident | None:
        """The last incident if it is recent enough to keep the health flag down."""
        incident = self.last_incident()
        if incident is None:
            return None
        window = timedelta(hours=self.settings.incident_flag_hours)
        return incident if (now or _now()) - incident.at < window else None
