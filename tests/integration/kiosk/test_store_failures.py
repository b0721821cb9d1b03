"""A damaged database and a full disk: a health flag and a clear log line, never a crash loop.

The full disk is real: the agent runs in its own mount namespace (`unshare`, no privileges
needed) with its state folder on a 4 MB tmpfs that the test fills, then empties through
/proc/<pid>/root.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kiosk_agent.adapters.identity import KioskIdentity
from tests.cloud_server import CloudServer
from tests.integration.kiosk.kiosk_home import (
    JARVIS_KIOSK,
    AgentProcess,
    KioskHome,
    status_json,
    wait_for,
)


def last_heartbeat(cloud: CloudServer, identity: KioskIdentity) -> dict[str, Any] | None:
    rows = cloud.sql(
        "select status, last_error, health from kiosk_heartbeats where kiosk_id = %s "
        "order by id desc limit 1",
        (identity.kiosk_id,),
    )
    return rows[0] if rows else None


def test_a_damaged_database_is_replaced_reported_and_the_agent_keeps_running(
    cloud: CloudServer, tmp_path: Path
) -> None:
    home = KioskHome(tmp_path / "kiosk")
    identity = home.provision(cloud.base_url, cloud.create_kiosk("gym-a", "Damaged"))
    database = home.state_dir / "kiosk.db"
    assert database.exists()
    database.write_bytes(b"\x00garbage that is not SQLite at all\x00" * 500)
    for side in ("kiosk.db-wal", "kiosk.db-shm"):
        (home.state_dir / side).unlink(missing_ok=True)
    agent = home.start()
    try:
        line = agent.wait_for_line("is damaged")
        assert "set aside as kiosk.db.corrupt-" in agent.wait_for_line("set aside as")
        assert "ERROR" in line
        beat = wait_for(
            lambda: (b := last_heartbeat(cloud, identity)) and not b["health"]["store_ok"] and b,
            what="a heartbeat with the store flag down",
        )
        assert "is damaged" in beat["health"]["extra"]["store_problem"]
        assert beat["status"] == "error"
        error_event = wait_for(
            lambda: cloud.sql(
                "select detail from kiosk_events where kiosk_id = %s and kind = 'agent_error'",
                (identity.kiosk_id,),
            ),
            what="the agent_error event",
        )[0]
        assert "is damaged" in error_event["detail"]["error"]
        assert list(home.state_dir.glob("kiosk.db.corrupt-*"))
        assert "is damaged" in status_json(home)["store_problem"]
        home.tap("FFEEDD01")  # still serving: the badge becomes an event as usual
        wait_for(
            lambda: cloud.sql(
                "select 1 from kiosk_events where kiosk_id = %s and badge_id = 'FFEEDD01'",
                (identity.kiosk_id,),
            ),
            what="the badge event from the new store",
        )
        assert agent.alive()
    finally:
        assert agent.stop() == 0, agent.output


def _on_small_disk(home: KioskHome, size: str, leave_kb: int) -> AgentProcess:
    """`jarvis-kiosk run` with its state on its own tmpfs, filled up to ``leave_kb`` free."""
    seed = home.root / "seed"
    seed.mkdir()
    shutil.copy2(home.state_dir / "credential.json", seed / "credential.json")
    script = (
        'set -e; mount -t tmpfs -o size="$SIZE",mode=0700 tmpfs "$STATE"; '
        'cp -p "$SEED/credential.json" "$STATE/"; '
        'avail=$(df -k --output=avail "$STATE" | tail -1); '
        'dd if=/dev/zero of="$STATE/filler" bs=1k count=$((avail - $LEAVE)) 2>/dev/null; '
        'exec "$AGENT" run'
    )
    process = subprocess.Popen(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
        env={
            **home.env,
            "SIZE": size,
            "STATE": str(home.state_dir),
            "SEED": str(seed),
            "LEAVE": str(leave_kb),
            "AGENT": JARVIS_KIOSK,
            "JARVIS_KIOSK_STORE__WRITE_RETRY_S": "1",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return AgentProcess(process)


def test_a_full_disk_raises_the_flags_keeps_records_in_memory_and_recovers(
    cloud: CloudServer, tmp_path: Path
) -> None:
    if shutil.which("unshare") is None:
        pytest.fail(
            "util-linux's unshare is needed for the full-disk test (apt install util-linux)"
        )
    home = KioskHome(tmp_path / "kiosk")
    identity = home.provision(cloud.base_url, cloud.create_kiosk("gym-a", "Full disk"))
    agent = _on_small_disk(home, "4m", leave_kb=400)
    try:
        agent.wait_for_line("reporting to")
        first = wait_for(lambda: last_heartbeat(cloud, identity), what="a first heartbeat")
        assert first["health"]["disk_nearly_full"] is True  # 400 kB free < 256 MB
        # Heartbeat history and refused badges fill the last kilobytes of the disk.
        for n in range(200):
            home.tap(f"FF{n:06X}")
            if any("local store" in line for line in agent.lines):
                break
        line = agent.wait_for_line("cannot grow: the disk is full")
        assert "ERROR" in line
        assert "free some space on the kiosk's disk" in line
        beat = wait_for(
            lambda: (
                (b := last_heartbeat(cloud, identity))
                and b["health"]["extra"]["agent_state"] == "out_of_service"
                and b
            ),
            what="a heartbeat saying the kiosk is out of service",
        )
        assert beat["health"]["store_ok"] is False
        assert beat["health"]["disk_nearly_full"] is True
        assert beat["status"] == "error"
        assert "disk is full" in beat["health"]["extra"]["store_problem"]
        assert agent.alive()
        store_errors = [x for x in agent.lines if "ERROR" in x and "local store" in x]
        assert len(store_errors) <= 3, "\n".join(store_errors)  # said once, not in a loop

        pid = agent.process.pid
        filler = Path(f"/proc/{pid}/root") / str(home.state_dir).lstrip("/") / "filler"
        filler.unlink()  # the installer frees space
        agent.wait_for_line("the store accepts writes again")
        wait_for(
            lambda: (
                (b := last_heartbeat(cloud, identity))
                and b["health"]["extra"]["agent_state"] == "idle"
                and b["health"]["store_ok"]
            ),
            what="a heartbeat back to idle with the store flag up",
        )
        delivered = wait_for(
            lambda: cloud.sql(
                "select count(*) as n from kiosk_events where kiosk_id = %s "
                "and kind = 'badge_unknown'",
                (identity.kiosk_id,),
            )[0]["n"],
            what="the badge events kept in memory, delivered",
        )
        assert delivered >= 1
    finally:
        code = agent.stop()
    assert code == 0, agent.output
    assert json.loads((home.state_dir / "credential.json").read_text())  # untouched outside


def test_an_unreadable_state_folder_is_one_clear_line_not_a_crash_loop(tmp_path: Path) -> None:
    home = KioskHome(tmp_path / "kiosk")
    home.state_dir.parent.mkdir(parents=True)
    home.state_dir.write_text("a file where the state folder should be")
    result = home.cli("run", timeout=30)
    assert result.returncode == 2
    assert "cannot create the state folder" in result.stderr
    assert "Traceback" not in result.stderr
