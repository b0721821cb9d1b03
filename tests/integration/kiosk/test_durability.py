"""Durability: agent processes killed with SIGKILL at random moments while they queue and
upload session records, the cloud stopped and restarted meanwhile; at the end every record
is stored in the cloud exactly once. The benchmark (bench/kiosk_outbox.py) runs this loop
many times; this is the short version."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from pydantic import SecretStr

from kiosk_agent.adapters.identity import KioskIdentity, save_identity
from kiosk_agent.adapters.store_open import open_readonly
from kiosk_agent.config import StoreSection
from tests.cloud_server import CloudServer
from tests.integration.kiosk.kiosk_home import KioskHome
from tests.integration.kiosk.outbox_child import COUNTER, record_id, turns_of

TOTAL = 200
ROUNDS = 6
PACE_MS = 30  # 200 records take about 6 s to make: every round is killed mid-run


def provision_directly(cloud: CloudServer, home: KioskHome, gym: str) -> KioskIdentity:
    claim = cloud.provision(gym)
    identity = KioskIdentity(
        kiosk_id=claim["kiosk_id"],
        kiosk_slug=claim["kiosk_slug"],
        kiosk_name=claim["kiosk_name"],
        gym_id=claim["gym_id"],
        gym_slug=claim["gym_slug"],
        gym_name=claim["gym_name"],
        cloud_url=cloud.base_url,
        device_id=f"test-{claim['kiosk_id']}",
        credential=SecretStr(claim["credential"]),
        provisioned_at=datetime.now(UTC),
    )
    save_identity(home.state_dir / "credential.json", identity)
    return identity


def child(home: KioskHome, members: list[UUID], seed: str) -> subprocess.Popen[bytes]:
    env = {
        **home.env,
        "JARVIS_TEST_MEMBERS": json.dumps([str(m) for m in members]),
        "JARVIS_KIOSK_OUTBOX__BATCH_SIZE": "20",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.kiosk.outbox_child",
            "--total",
            str(TOTAL),
            "--seed",
            seed,
            "--pace-ms",
            str(PACE_MS),
        ],
        env=env,
        cwd=Path(__file__).resolve().parents[3],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_killed_agents_and_a_cloud_outage_lose_and_double_nothing(
    cloud: CloudServer, tmp_path: Path
) -> None:
    home = KioskHome(tmp_path / "kiosk")
    identity = provision_directly(cloud, home, "gym-b")
    members = [cloud.add_member("gym-b", f"0D{n:06X}", f"Member {n}") for n in range(3)]
    seed = f"durability-{os.getpid()}-{time.time_ns()}"
    rng = random.Random(seed)
    killed_alive = 0
    try:
        for round_ in range(ROUNDS):
            process = child(home, members, seed)
            try:
                time.sleep(rng.uniform(0.6, 1.5))
                if round_ == 1:
                    cloud.stop()  # the outage spans the next rounds' kills
                if round_ == 4:
                    cloud.start()
                if process.poll() is None:
                    killed_alive += 1
            finally:  # also when the test itself is interrupted: no child outlives it
                process.kill()  # SIGKILL: no cleanup, wherever it is
                process.communicate(timeout=30)
    finally:
        if not cloud.running:
            cloud.start()
    final = child(home, members, seed)
    try:
        output, _ = final.communicate(timeout=120)
    finally:
        if final.poll() is None:  # timed out, or the test was interrupted
            final.kill()
            final.communicate(timeout=30)
    assert final.returncode == 0, output.decode()
    assert b"DRAINED" in output
    assert killed_alive >= ROUNDS - 1, "the children were supposed to be killed mid-run"

    expected = {record_id(seed, i): turns_of(i) for i in range(TOTAL)}
    # The cloud stores a kiosk-made id scoped to the kiosk's gym: read back the kiosk's ids.
    stored = cloud.sql(
        "select m.made as id, s.turn_count from realtime_sessions s "
        "join kiosks k on k.id = s.kiosk_id "
        "join unnest(%s::uuid[]) m(made) on s.id = private.gym_record_id(k.gym_id, m.made) "
        "where s.kiosk_id = %s",
        (list(expected), identity.kiosk_id),
    )
    assert len(stored) == TOTAL
    everything = cloud.sql(
        "select count(*) as n from realtime_sessions where kiosk_id = %s", (identity.kiosk_id,)
    )
    assert everything == [{"n": TOTAL}]  # nothing stored twice
    assert {row["id"] for row in stored} == set(expected)
    assert {row["id"]: row["turn_count"] for row in stored} == expected
    turns = cloud.sql(
        "select m.made as session_id, count(*) as n from conversation_turns t "
        "join realtime_sessions s on s.id = t.session_id join kiosks k on k.id = s.kiosk_id "
        "join unnest(%s::uuid[]) m(made) on s.id = private.gym_record_id(k.gym_id, m.made) "
        "where s.kiosk_id = %s group by m.made",
        (list(expected), identity.kiosk_id),
    )
    assert {row["session_id"]: row["n"] for row in turns} == {
        rid: n for rid, n in expected.items() if n
    }
    store = open_readonly(home.state_dir / "kiosk.db", StoreSection())
    try:
        counts = store.outbox_counts()
        assert (counts.depth, counts.refused) == (0, 0)
        assert store.get(COUNTER) == str(TOTAL)
    finally:
        store.close()
