"""Opening the store: create and migrate it, and replace a damaged file without losing what
can be read of its outbox. Also a read-only view for `status` and `doctor`, which must never
migrate, repair or lock out the running agent."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from kiosk_agent.adapters.store import KioskStore
from kiosk_agent.adapters.store_base import (
    MIGRATIONS,
    Migration,
    RecordKind,
    StoreCorrupt,
    StoreError,
    StoreIncident,
    StoreUnavailable,
    connect_readonly,
    create_private,
    fsync_dir,
    migrate,
    translate,
)
from kiosk_agent.config import StoreSection

logger = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


def _open_checked(
    path: Path, settings: StoreSection, migrations: Sequence[Migration]
) -> KioskStore:
    create_private(path)
    store = KioskStore(path, settings, incident=None)
    try:
        verdict = store.quick_check()
        if verdict != "ok":
            raise StoreCorrupt(f"the store {path} failed its integrity check: {verdict[:300]}")
        with store._guard():
            migrate(store._conn, migrations)
    except BaseException:
        store.close()
        raise
    return store


def open_store(
    path: Path,
    settings: StoreSection,
    *,
    migrations: Sequence[Migration] = MIGRATIONS,
    now: Callable[[], datetime] = _now,
) -> KioskStore:
    """Open (creating and migrating) the store; a corrupted file is set aside and replaced.

    Raises StoreUnavailable, StoreFull or StoreTooNew when no usable store can be had.
    """
    try:
        store = _open_checked(path, settings, migrations)
    except (sqlite3.Error, OSError, StoreError) as exc:
        error = translate(exc, path)
        if error is None:
            raise
        if not isinstance(error, StoreCorrupt):
            raise error from exc
        try:
            return _replace_corrupt(path, settings, migrations, error, now())
        except (sqlite3.Error, OSError) as again:
            raise translate(again, path) or StoreUnavailable(str(again)) from again
    incident = store.recent_incident(now())
    store.incident = incident
    return store


def _replace_corrupt(
    path: Path,
    settings: StoreSection,
    migrations: Sequence[Migration],
    error: StoreCorrupt,
    at: datetime,
) -> KioskStore:
    quarantine = path.with_name(f"{path.name}.corrupt-{at:%Y%m%dT%H%M%SZ}")
    for n in range(2, 100):
        if not quarantine.exists():
            break
        quarantine = path.with_name(f"{path.name}.corrupt-{at:%Y%m%dT%H%M%SZ}-{n}")
    logger.error(
        "%s; moving it aside to %s and starting a new store (undelivered records are "
        "copied over when they can be read)",
        error,
        quarantine,
    )
    for suffix in ("", "-wal", "-shm"):
        source = Path(str(path) + suffix)
        if source.exists():
            source.rename(Path(str(quarantine) + suffix))
    fsync_dir(path.parent)
    rows = salvage_outbox(quarantine)
    store = _open_checked(path, settings, migrations)
    salvaged = 0
    for kind, record_id, payload, created_at in rows:
        try:
            if store.enqueue(RecordKind(kind), record_id, payload, now=created_at):
                salvaged += 1
        except ValueError:
            continue
    message = (
        f"{error}; it was set aside as {quarantine.name} and a new store started; "
        f"{salvaged} undelivered records were recovered from it"
    )
    logger.error("%s", message)
    store.record_incident(
        StoreIncident(at=at, message=message, quarantined=str(quarantine), salvaged=salvaged)
    )
    return store


def salvage_outbox(path: Path) -> list[tuple[str, str, str, datetime]]:
    """Whatever undelivered records can still be read from a damaged store file."""
    found: list[tuple[str, str, str, datetime]] = []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return found
    try:
        cursor = conn.execute(
            "select kind, id, payload, created_at from outbox where status = 'pending' order by seq"
        )
        while True:
            try:
                row = cursor.fetchone()
            except sqlite3.Error:
                break
            if row is None:
                break
            with contextlib.suppress(TypeError, ValueError):
                found.append(
                    (str(row[0]), str(row[1]), str(row[2]), datetime.fromisoformat(row[3]))
                )
    except sqlite3.Error as exc:
        logger.warning("nothing could be read from the damaged store's outbox (%s)", exc)
    finally:
        conn.close()
    return found


def open_readonly(path: Path, settings: StoreSection) -> KioskStore:
    """The store for reading only: never created, migrated or repaired from here."""
    return KioskStore(path, settings, conn=connect_readonly(path))
