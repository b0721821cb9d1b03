"""Kiosk outbox and agent (issue 4): drain rate after an outage, idle cost, durability loops.

Starts `jarvis-cloud serve` on an embedded Postgres in a fresh folder (the benchmark holds the
database open, so stopping `serve` is an outage of the API only), provisions a kiosk with
`jarvis-kiosk provision`, then:

1. outage: with the cloud stopped, the kiosk queues N session records (0–3 turns each,
   every one fsynced: `synchronous=FULL`); the cloud comes back and the kiosk's real uploader
   drains the outbox. Prints records/s for both, and checks every record is stored once.
   Repeated with a fresh kiosk each time; the median run is reported.
2. idle: `jarvis-kiosk run` provisioned and idle (heartbeats at the cloud's 30 s, the
   simulated badge reader listening) for a while; its CPU and memory (RSS, USS).
3. durability, L times: agent processes SIGKILLed at random moments while they queue and
   upload 300 records, the cloud stopped and restarted meanwhile; every record must be
   stored exactly once.

Writes bench/results/kiosk_outbox.json.

    python -m bench.kiosk_outbox [--records 10000] [--repeat 3] [--idle-seconds 60] [--loops 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

from bench.rls_overhead import machine
from cloud_api.config import CloudSettings
from cloud_api.data import kiosks
from cloud_api.data.audit import SYSTEM
from cloud_api.db.admin import admin_transaction
from cloud_api.db.embedded import EmbeddedPostgres
from cloud_api.services import code_pepper

RESULTS = Path(__file__).parent / "results" / "kiosk_outbox.json"
ROOT = Path(__file__).resolve().parents[1]
JARVIS_KIOSK = str(Path(sys.executable).with_name("jarvis-kiosk"))
CHILD = "tests.integration.kiosk.outbox_child"


class Cloud:
    """`jarvis-cloud serve` as a subprocess that can be stopped and started again."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.base_url = f"http://127.0.0.1:{port}"
        self.port = port
        self.env = {
            **os.environ,
            "JARVIS_DATA_DIR": str(data_dir),
            "JARVIS_TOKEN_SECRET": uuid.uuid4().hex,
            "JARVIS_RATE_LIMIT_API_PER_MIN": "100000000",
            "JARVIS_RATE_LIMIT_VOICE_PER_MIN": "100000000",
        }
        self.env.pop("DATABASE_URL", None)
        self.log = (data_dir / "serve.log").open("a")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from cloud_api.cli import main; main()",
                "serve",
                "--port",
                str(self.port),
            ],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit("the cloud exited during start-up; see serve.log")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise SystemExit("the cloud did not come up")

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=60)
            self.process = None

    @property
    def settings(self) -> CloudSettings:
        return CloudSettings(
            _env_file=None,
            data_dir=Path(self.env["JARVIS_DATA_DIR"]),  # type: ignore[call-arg]
            token_secret=self.env["JARVIS_TOKEN_SECRET"],
        )


def new_code(cloud: Cloud, admin_url: str, gym: str) -> str:
    async def issue() -> str:
        async with admin_transaction(admin_url) as conn:
            issued = await kiosks.create_kiosk(
                conn,
                gym_slug=gym,
                name=f"Bench kiosk {uuid.uuid4().hex[:6]}",
                location=None,
                pepper=code_pepper(cloud.settings),
                ttl=timedelta(hours=1),
                actor=SYSTEM,
            )
            return issued.code

    return asyncio.run(issue())


def kiosk_env(state: Path, members: list[str], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JARVIS_KIOSK_")}
    config = state.parent / "kiosk.env"
    config.write_text("")
    env.update(
        {
            "JARVIS_KIOSK_CONFIG": str(config),
            "JARVIS_KIOSK_STATE_DIR": str(state),
            "JARVIS_KIOSK_BADGE__SIMULATED__STDIN": "false",
            "JARVIS_KIOSK_BADGE__SIMULATED__HTTP_PORT": "0",
            "JARVIS_KIOSK_ANNOUNCE__SPEAK": "false",
            "JARVIS_TEST_MEMBERS": json.dumps(members),
            **extra,
        }
    )
    return env


def provision(
    cloud: Cloud, admin_url: str, gym: str, folder: Path, members: list[str]
) -> tuple[dict[str, str], str]:
    state = folder / "state"
    state.parent.mkdir(parents=True)
    env = kiosk_env(state, members)
    code = new_code(cloud, admin_url, gym)
    result = subprocess.run(
        [JARVIS_KIOSK, "provision", "--cloud-url", cloud.base_url, "--code", code],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"provisioning failed: {result.stderr}")
    kiosk_id = json.loads((state / "credential.json").read_text())["kiosk_id"]
    return env, kiosk_id


def child(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", CHILD, *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def figure(output: str, word: str, index: int) -> float:
    line = next(x for x in output.splitlines() if x.startswith(word + " "))
    return float(line.split()[index])


def stored(admin_url: str, kiosk_id: str) -> tuple[int, int]:
    with psycopg.connect(admin_url) as conn:
        row = conn.execute(
            "select count(*), count(distinct id) from realtime_sessions where kiosk_id = %s",
            (kiosk_id,),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def drain_after_outage(
    cloud: Cloud, admin_url: str, env: dict[str, str], kiosk_id: str, records: int, seed: str
) -> dict[str, Any]:
    cloud.stop()
    print(f"outage: queueing {records} session records with the cloud down…")
    queue = child(env, "--total", str(records), "--seed", seed, "--no-upload")
    out, _ = queue.communicate(timeout=3600)
    if queue.returncode != 0:
        raise SystemExit(out)
    queued_s = figure(out, "PRODUCED", 1)
    cloud.start()
    print("the cloud is back: draining…")
    drain = child(env, "--total", str(records), "--seed", seed, "--no-produce")
    out, _ = drain.communicate(timeout=3600)
    if drain.returncode != 0:
        raise SystemExit(out)
    delivered = int(figure(out, "DRAINED", 1))
    drained_s = figure(out, "DRAINED", 2)
    rows, distinct = stored(admin_url, kiosk_id)
    return {
        "load_average_1m_after": round(os.getloadavg()[0], 2),
        "records": records,
        "queue_s": round(queued_s, 2),
        "queue_records_per_s": round(records / queued_s, 1),
        "drain_s": round(drained_s, 2),
        "drain_records_per_s": round(delivered / drained_s, 1),
        "stored_rows": rows,
        "stored_exactly_once": rows == distinct == records,
    }


def idle_agent(env: dict[str, str], seconds: float) -> dict[str, Any]:
    print(f"idle agent: warming up, then measuring for {seconds:g} s…")
    agent = subprocess.Popen(
        [JARVIS_KIOSK, "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        process = psutil.Process(agent.pid)
        time.sleep(10)
        before = process.cpu_times()
        samples = []
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            samples.append(process.memory_full_info())
            time.sleep(1)
        elapsed = time.monotonic() - started
        after = process.cpu_times()
        threads = process.num_threads()
    finally:
        agent.send_signal(signal.SIGTERM)
        code = agent.wait(60)
    cpu = max(0.0, (after.user + after.system - before.user - before.system) / elapsed * 100)
    return {
        "seconds": round(elapsed, 1),
        "cpu_percent_of_one_core": round(cpu, 3),
        "rss_mb_median": round(statistics.median(s.rss for s in samples) / 1_048_576, 1),
        "rss_mb_max": round(max(s.rss for s in samples) / 1_048_576, 1),
        "uss_mb_median": round(statistics.median(s.uss for s in samples) / 1_048_576, 1),
        "threads": threads,
        "exit_code": code,
    }


def durability(
    cloud: Cloud, admin_url: str, gym: str, folder: Path, members: list[str], loops: int
) -> dict[str, Any]:
    outcomes = []
    for loop in range(loops):
        env, kiosk_id = provision(cloud, admin_url, gym, folder / f"loop-{loop}", members)
        env["JARVIS_KIOSK_OUTBOX__BATCH_SIZE"] = "20"
        env["JARVIS_KIOSK_OUTBOX__BACKOFF_MAX_S"] = "2"
        rng = random.Random(loop)
        total, kills = 300, 0
        for round_ in range(8):
            process = child(env, "--total", str(total), "--seed", f"loop-{loop}", "--pace-ms", "40")
            time.sleep(rng.uniform(0.5, 2.5))
            if round_ == 2:
                cloud.stop()
            if round_ == 5:
                cloud.start()
            if process.poll() is None:
                kills += 1
            process.kill()
            process.communicate(timeout=60)
        final = child(env, "--total", str(total), "--seed", f"loop-{loop}")
        final.communicate(timeout=600)
        rows, distinct = stored(admin_url, kiosk_id)
        ok = final.returncode == 0 and rows == distinct == total
        outcomes.append({"loop": loop, "kills": kills, "stored": rows, "exactly_once": ok})
        print(
            f"durability loop {loop}: {kills} kills, {rows}/{total} stored, "
            f"{'exactly once' if ok else 'FAILED'}"
        )
    return {
        "loops": loops,
        "records_per_loop": 300,
        "kills": sum(o["kills"] for o in outcomes),
        "all_exactly_once": all(o["exactly_once"] for o in outcomes),
        "outcomes": outcomes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--loops", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3, help="drain runs (the median is kept)")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="jarvis-bench-kiosk-"))
    data_dir.chmod(0o755)
    database = EmbeddedPostgres(data_dir)
    admin_url = database.start()  # held by the benchmark: stopping `serve` leaves it up
    cloud = Cloud(data_dir, port=8766)
    try:
        cloud.start()
        with psycopg.connect(admin_url) as conn:
            conn.execute("insert into gyms (slug, name) values ('bench-kiosk', 'Bench Kiosk')")
            members = [
                str(row[0])
                for row in conn.execute(
                    "insert into gym_members (gym_id, badge_id, first_name) "
                    "select g.id, upper(lpad(to_hex(i), 8, '0')), 'Bench ' || i "
                    "from gyms g, generate_series(1, 20) i where g.slug = 'bench-kiosk' "
                    "returning id"
                ).fetchall()
            ]
        drains = []
        for run in range(args.repeat):
            folder = data_dir / f"kiosk-{run}"
            env, kiosk_id = provision(cloud, admin_url, "bench-kiosk", folder, members)
            # Record ids are made from the seed: each kiosk needs its own (the cloud refuses a
            # session id that belongs to another kiosk).
            drain = drain_after_outage(
                cloud, admin_url, env, kiosk_id, args.records, f"drain-{run}"
            )
            drains.append(drain)
            print(f"run {run}: drained at {drains[-1]['drain_records_per_s']} records/s")
        drain = dict(sorted(drains, key=lambda d: d["drain_records_per_s"])[len(drains) // 2])
        drain["runs_records_per_s"] = [d["drain_records_per_s"] for d in drains]
        drain["stored_exactly_once"] = all(d["stored_exactly_once"] for d in drains)
        idle = idle_agent(env, args.idle_seconds)
        loops = durability(cloud, admin_url, "bench-kiosk", data_dir, members, args.loops)
    finally:
        cloud.stop()
        cloud.log.close()
        database.stop()
    report = {
        "benchmark": "kiosk_outbox",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "drain_after_outage": drain,
        "idle_agent": idle,
        "durability": loops,
    }
    print(
        f"\noutbox: {drain['records']} records queued in {drain['queue_s']} s "
        f"({drain['queue_records_per_s']} records/s, each fsynced)"
    )
    print(
        f"drain after the outage: {drain['drain_s']} s = {drain['drain_records_per_s']} "
        f"records/s; stored exactly once: {drain['stored_exactly_once']}"
    )
    print(
        f"idle agent: {idle['cpu_percent_of_one_core']} % of one core, RSS "
        f"{idle['rss_mb_median']} MB (max {idle['rss_mb_max']}), USS {idle['uss_mb_median']} MB"
    )
    print(
        f"durability: {loops['loops']} loops, {loops['kills']} SIGKILLs, all exactly once: "
        f"{loops['all_exactly_once']}"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print(f"wrote {RESULTS}")
    shutil.rmtree(data_dir, ignore_errors=True)
    if not (drain["stored_exactly_once"] and loops["all_exactly_once"]):
        raise SystemExit("FAILED: some records were not stored exactly once (see above)")


if __name__ == "__main__":
    main()
