"""The kiosk's SQLite store on real files: outbox, cache, migrations, budget, damage, full disk."""

from __future__ import annotations

import os
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from contract.kiosk_api import (
    EndReason,
    EventKind,
    KioskConfig,
    KioskEvent,
    MemberCard,
    MembershipStatus,
    SessionRecord,
)
from kiosk_agent.adapters.store import KioskStore, disk_status
from kiosk_agent.adapters.store_base import (
    MIGRATIONS,
    Migration,
    RecordKind,
    StoreFull,
    StoreTooNew,
    StoreUnavailable,
    migrate,
)
from kiosk_agent.adapters.store_open import open_readonly, open_store, salvage_outbox
from kiosk_agent.config import StoreSection

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def session(n: int = 0, *, turns: int = 0) -> SessionRecord:
    from contract.kiosk_api import Turn

    return SessionRecord(
        id=uuid4(),
        member_id=uuid4(),
        started_at=NOW,
        ended_at=NOW + timedelta(seconds=30 + n),
        end_reason=EndReason.GOODBYE,
        model="gpt-realtime-mini",
        turns=[Turn(index=i, role="user", content="bonjour " * 50) for i in range(turns)],
    )


def event() -> KioskEvent:
    return KioskEvent(id=uuid4(), kind=EventKind.BADGE_UNKNOWN, occurred_at=NOW, badge_id="0A0B0C")


@pytest.fixture
def store(tmp_path: Path) -> KioskStore:
    s = open_store(tmp_path / "state" / "kiosk.db", StoreSection())
    yield s  # type: ignore[misc]
    s.close()


def test_a_new_store_is_private_durable_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "state" / "kiosk.db"
    s = open_store(path, StoreSection())
    try:
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        conn = s.db.conn
        assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"
        assert conn.execute("pragma synchronous").fetchone()[0] == 2  # FULL: fsync per commit
        s.enqueue_event(event())
        for suffix in ("-wal", "-shm"):  # SQLite gives its side files the database's mode
            assert stat.S_IMODE(Path(str(path) + suffix).stat().st_mode) == 0o600
        assert s.schema_version() == MIGRATIONS[-1].version
    finally:
        s.close()


def test_records_stay_until_delivered_oldest_first(store: KioskStore) -> None:
    records = [session(i) for i in range(5)]
    for record in records:
        assert store.enqueue_session(record)
    store.enqueue_event(event())
    pending = store.pending(RecordKind.SESSION, 3)
    assert [p.id for p in pending] == [str(r.id) for r in records[:3]]
    assert SessionRecord.model_validate_json(pending[0].payload) == records[0]
    assert store.mark_delivered([p.id for p in pending]) == 3
    assert [p.id for p in store.pending(RecordKind.SESSION, 10)] == [str(r.id) for r in records[3:]]
    counts = store.outbox_counts()
    assert (counts.pending_sessions, counts.pending_events, counts.depth) == (2, 1, 3)


def test_writing_the_same_record_twice_keeps_one(store: KioskStore) -> None:
    record = session()
    assert store.enqueue_session(record)
    assert not store.enqueue_session(record)
    assert store.outbox_counts().pending_sessions == 1


def test_refused_records_are_kept_aside_and_not_sent_again(store: KioskStore) -> None:
    bad, good = session(1), session(2)
    store.enqueue_session(bad)
    store.enqueue_session(good)
    store.note_failed_attempt([str(bad.id)], "HTTP 503")
    store.mark_refused([(str(bad.id), "the member does not belong to this gym")])
    assert [p.id for p in store.pending(RecordKind.SESSION, 10)] == [str(good.id)]
    assert store.outbox_counts().refused == 1
    assert store.refused() == [(str(bad.id), "session", "the member does not belong to this gym")]


def test_the_member_cache_upserts_and_keeps_the_sync_cursor(store: KioskStore) -> None:
    alice = MemberCard(badge_id="04A23B1C", status=MembershipStatus.ACTIVE, member_id=uuid4())
    store.save_members([alice], cursor="c1", now=NOW)
    assert store.member("04A23B1C") == alice
    assert store.member_cursor() == "c1"
    assert store.member_synced_at() == NOW
    expired = alice.model_copy(update={"status": MembershipStatus.EXPIRED})
    store.save_members([expired], cursor=None)
    assert store.member("04A23B1C") == expired
    assert store.member_cursor() == "c1"  # a lookup does not move the cursor
    assert store.member("FFFFFF") is None
    assert store.member_count() == 1


def test_desired_config_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    s = open_store(path, StoreSection())
    s.save_desired_config(KioskConfig(language="en", max_session_s=120))
    s.close()
    s = open_store(path, StoreSection())
    assert s.desired_config() == KioskConfig(language="en", max_session_s=120)
    s.close()


def test_heartbeat_history_is_capped(tmp_path: Path) -> None:
    s = open_store(tmp_path / "kiosk.db", StoreSection(heartbeat_history_rows=3))
    for i in range(10):
        s.log_heartbeat(sent_at=NOW + timedelta(seconds=i), ok=i % 2 == 0, payload="{}", error=None)
    beats = s.last_heartbeats(10)
    assert [b[0] for b in beats] == [NOW + timedelta(seconds=i) for i in (9, 8, 7)]
    s.close()


def test_migrations_apply_in_order_once_and_refuse_a_newer_store(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    conn = sqlite3.connect(path)
    assert migrate(conn) == [1]
    assert migrate(conn) == []
    later = (*MIGRATIONS, Migration(2, "add a column", "alter table members add column note text;"))
    assert migrate(conn, later) == [2]
    conn.execute(
        "insert into members (badge_id, status, card, synced_at, note) values "
        "('AABBCC', 'active', '{}', 'now', 'x')"
    )
    conn.commit()
    with pytest.raises(StoreTooNew, match="newer jarvis-kiosk"):
        migrate(conn, MIGRATIONS)
    conn.close()


def test_a_failing_migration_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "kiosk.db")
    migrate(conn)
    broken = (
        *MIGRATIONS,
        Migration(2, "broken", "create table t (a); insert into nope values (1);"),
    )
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, broken)
    conn.rollback()
    tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
    assert "t" not in tables
    assert conn.execute("select max(version) from schema_migrations").fetchone()[0] == 1
    conn.close()


def test_past_its_budget_the_store_drops_history_then_refused_then_events_never_sessions(
    tmp_path: Path,
) -> None:
    s = open_store(tmp_path / "kiosk.db", StoreSection(max_size_mb=0.5))
    sessions = [session(i, turns=20) for i in range(40)]  # about 0.4 MB of undelivered sessions
    with s.db.atomic():  # one commit: fast
        for record in sessions:
            s.enqueue_session(record)
        for _ in range(200):
            s.enqueue_event(event())
    refused = session(99, turns=5)
    s.enqueue_session(refused)
    s.mark_refused([(str(refused.id), "bad")])
    with s.db.atomic():
        for _ in range(300):
            s.log_heartbeat(sent_at=NOW, ok=True, payload="h" * 1000, error=None)
    report = s.enforce_budget()
    assert report.heartbeats_dropped == 300
    assert report.refused_dropped == 1
    assert report.events_dropped > 0
    assert s.outbox_counts().pending_sessions == 40  # every session record kept
    assert s.used_bytes() <= 0.5 * 1_048_576 or report.over_budget
    s.close()


def test_sessions_alone_over_budget_are_kept_and_reported(tmp_path: Path) -> None:
    s = open_store(tmp_path / "kiosk.db", StoreSection(max_size_mb=0.05))
    for i in range(30):
        s.enqueue_session(session(i, turns=20))
    report = s.enforce_budget()
    assert report.over_budget
    assert s.outbox_counts().pending_sessions == 30
    s.close()


def test_a_full_disk_is_a_clear_store_full_error(tmp_path: Path) -> None:
    s = open_store(tmp_path / "kiosk.db", StoreSection())
    pages = s.db.conn.execute("pragma page_count").fetchone()[0]
    s.db.conn.execute(f"pragma max_page_count = {pages + 2}")  # SQLite's own "disk is full"
    records = [session(i, turns=30) for i in range(100)]
    written = 0
    with pytest.raises(StoreFull, match="disk is full"):  # noqa: PT012 - fails part way
        for record in records:
            s.enqueue_session(record)
            written += 1
    assert s.outbox_counts().pending_sessions == written  # what was accepted is still there
    s.close()


def test_a_damaged_file_is_set_aside_and_its_outbox_recovered(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    s = open_store(path, StoreSection())
    kept = [session(i) for i in range(10)]
    for record in kept:
        s.enqueue_session(record)
    with s.db.atomic():  # later pages, which the damage will hit (one commit: fast)
        for _ in range(2000):
            s.log_heartbeat(sent_at=NOW, ok=True, payload="x" * 500, error=None)
    s.db.conn.execute("pragma wal_checkpoint(truncate)")
    s.close()
    data = bytearray(path.read_bytes())
    for offset in range(len(data) - 20 * 4096, len(data), 4096):
        data[offset : offset + 100] = b"\xff" * 100
    path.write_bytes(bytes(data))

    s = open_store(path, StoreSection(), now=lambda: NOW)
    try:
        assert s.incident is not None
        assert "damaged" in s.incident.message
        assert "10 undelivered records were recovered" in s.incident.message
        assert s.quick_check() == "ok"
        assert {p.id for p in s.pending(RecordKind.SESSION, 100)} == {str(r.id) for r in kept}
        quarantined = Path(s.incident.quarantined or "")
        assert quarantined.exists()
        assert quarantined.name == "kiosk.db.corrupt-20261122T090000Z"
        assert s.recent_incident(NOW + timedelta(hours=1)) is not None
        assert s.recent_incident(NOW + timedelta(hours=25)) is None
    finally:
        s.close()


def test_a_file_that_is_not_a_database_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    s = open_store(path, StoreSection())
    assert s.incident is not None
    assert "0 undelivered records" in s.incident.message
    s.enqueue_event(event())
    s.close()
    assert salvage_outbox(Path(s.incident.quarantined or "")) == []


def test_an_unwritable_state_folder_is_a_clear_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        path = Path("/proc/jarvis-kiosk-test/kiosk.db")  # root may write anywhere but /proc
    else:
        folder = tmp_path / "locked"
        folder.mkdir(mode=0o500)
        path = folder / "kiosk.db"
    with pytest.raises(StoreUnavailable, match="cannot use the store"):
        open_store(path, StoreSection())


def test_the_read_only_view_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    with pytest.raises(StoreUnavailable, match="no store"):
        open_readonly(path, StoreSection())
    assert not path.exists()
    s = open_store(path, StoreSection())
    s.enqueue_event(event())
    s.put({"agent_state": "idle"})
    view = open_readonly(path, StoreSection())
    assert view.outbox_counts().pending_events == 1
    assert view.get("agent_state") == "idle"
    with pytest.raises(Exception, match="readonly"):
        view.put({"agent_state": "hacked"})
    view.close()
    s.close()


def test_disk_status_flags_a_nearly_full_disk(tmp_path: Path) -> None:
    roomy = disk_status(tmp_path, StoreSection(min_free_mb=1, nearly_full_percent=100))
    assert not roomy.nearly_full
    assert roomy.free_mb > 1
    tight = disk_status(tmp_path, StoreSection(min_free_mb=roomy.free_mb * 2))
    assert tight.nearly_full
