"""The store's foundations: its errors, its schema and migrations, and its connections.

Every sqlite3 and OS error the store can meet is translated here into a few outcomes a
person and the agent can act on: full, damaged, unavailable, or written by a newer version.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

_SQLITE_CORRUPT = 11
_SQLITE_FULL = 13
_SQLITE_NOTADB = 26
_SQLITE_IOERR = 10
_SQLITE_CANTOPEN = 14
_SQLITE_READONLY = 8
_SQLITE_PERM = 3


class StoreError(Exception):
    """The store failed; the message says what happened and what to do."""


class StoreFull(StoreError):
    """The disk (or the store's hard limit) is full: nothing more can be written."""


class StoreCorrupt(StoreError):
    """The database file is damaged."""


class StoreUnavailable(StoreError):
    """The database cannot be opened or written (permissions, I/O errors)."""


class StoreTooNew(StoreError):
    """The database was made by a newer jarvis-kiosk than this one."""


class RecordKind(StrEnum):
    SESSION = "session"
    EVENT = "event"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "outbox, member cache, key-value state, heartbeat history",
        """
        create table outbox (
            seq integer primary key autoincrement,
            id text not null unique,
            kind text not null check (kind in ('session', 'event')),
            payload text not null,
            created_at text not null,
            attempts integer not null default 0,
            last_error text,
            status text not null default 'pending' check (status in ('pending', 'refused')),
            size integer not null
        );
        create index outbox_pending_idx on outbox (status, kind, seq);
        create table members (
            badge_id text primary key,
            member_id text,
            status text not null,
            card text not null,
            synced_at text not null
        );
        create table kv (
            key text primary key,
            value text not null,
            updated_at text not null
        );
        create table heartbeats (
            seq integer primary key autoincrement,
            sent_at text not null,
            ok integer not null,
            payload text not null,
            error text
        );
        """,
    ),
)


@dataclass(frozen=True, slots=True)
class StoreIncident:
    at: datetime
    message: str
    quarantined: str | None
    salvaged: int


def _now() -> datetime:
    return datetime.now(UTC)


def _code(exc: sqlite3.Error) -> int:
    return int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


def translate(exc: BaseException, path: Path) -> StoreError | None:
    """The store error for a sqlite3 or OS error, or None when it is none of ours."""
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return StoreFull(f"the disk holding {path} is full: free some space")
        return StoreUnavailable(f"cannot use the store {path}: {exc.strerror or exc}")
    if not isinstance(exc, sqlite3.Error):
        return None
    code = _code(exc)
    if code == _SQLITE_FULL:
        return StoreFull(
            f"the store {path} cannot grow: the disk is full ({exc}); free some space on the "
            "kiosk's disk"
        )
    if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return StoreCorrupt(f"the store {path} is damaged ({exc})")
    if code in (_SQLITE_IOERR, _SQLITE_CANTOPEN, _SQLITE_READONLY, _SQLITE_PERM):
        return StoreUnavailable(
            f"cannot read or write the store {path} ({exc}): check the disk and that the "
            "state folder belongs to the kiosk's user"
        )
    if isinstance(exc, sqlite3.DatabaseError) and "malformed" in str(exc):
        return StoreCorrupt(f"the store {path} is damaged ({exc})")
    return None


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection that changes nothing on disk (for `status` and `doctor`)."""
    if not path.exists():
        raise StoreUnavailable(f"there is no store at {path} yet: the agent creates it")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
        conn.execute("pragma busy_timeout = 5000")
    except sqlite3.Error as exc:
        raise translate(exc, path) or StoreUnavailable(f"cannot read {path}: {exc}") from exc
    return conn


def connect(path: Path) -> sqlite3.Connection:
    # check_same_thread=False: the agent uses the connection from one dedicated thread,
    # which is not the thread that opened it.
    conn = sqlite3.connect(path, timeout=10.0, check_same_thread=False)
    try:
        conn.execute("pragma busy_timeout = 10000")
        mode = conn.execute("pragma journal_mode = wal").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreUnavailable(
                f"the store {path} cannot use write-ahead logging (journal mode {mode}): "
                "put the state folder on a local disk"
            )
        conn.execute("pragma synchronous = full")
        conn.execute("pragma foreign_keys = on")
    except BaseException:
        conn.close()
        raise
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    conn.execute(
        "create table if not exists schema_migrations ("
        "version integer primary key, name text not null, applied_at text not null)"
    )
    row = conn.execute("select max(version) from schema_migrations").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Apply the migrations the database lacks, each in its own transaction, in order."""
    ordered = sorted(migrations, key=lambda m: m.version)
    latest = ordered[-1].version if ordered else 0
    current = schema_version(conn)
    conn.commit()
    if current > latest:
        raise StoreTooNew(
            f"the store was written by a newer jarvis-kiosk (schema {current}, this one knows "
            f"up to {latest}): install the newer version again"
        )
    applied = []
    for migration in ordered:
        if migration.version <= current:
            continue
        # executescript commits first, so the migration runs inside an explicit transaction.
        conn.executescript(
            "begin;\n"
            + migration.sql
            + f"\ninsert into schema_migrations (version, name, applied_at) values "
            f"({int(migration.version)}, {_sql_text(migration.name)}, "
            f"{_sql_text(_now().isoformat())});\ncommit;"
        )
        applied.append(migration.version)
    return applied


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def create_private(path: Path) -> None:
    """Create the state folder (0700) and an empty database file (0600), durably."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.exists():
        return
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a new or renamed directory entry survive power loss."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
