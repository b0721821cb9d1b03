"""Real `jarvis-cloud worker` processes on one database: several workers run each job once,
a worker killed mid-job has its job run again by another without doubling anything, and a
worker stops cleanly on SIGTERM and SIGINT."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator import Simulator, SimulatorSettings, VoiceKind
from tests.cloud_server import ServerThread
from tests.conftest import PostgresServer
from tests.integration.pipeline import world

KEY = "sk-org-" + uuid.uuid4().hex
COMPLAINT = "Le tapis de course est encore en panne, j'en ai marre."


@pytest.fixture(scope="module")
def admin(postgres: PostgresServer) -> str:
    return postgres.create_database("workers")


@pytest.fixture(scope="module")
def simulator() -> Iterator[ServerThread]:
    with ServerThread(Simulator(SimulatorSettings(api_key=KEY, voice=VoiceKind.TONE)).app()) as s:
        yield s


class Workers:
    def __init__(self, postgres: PostgresServer, admin: str, logs: Path) -> None:
        self.settings = world.worker_settings(postgres, admin)
        self.admin = admin
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, **env: str) -> subprocess.Popen[bytes]:
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("JARVIS_", "OPENAI_", "DATABASE_URL"))
        }
        base.update(
            {
                "DATABASE_URL": self.admin,
                "JARVIS_WORKER_DATABASE_URL": str(self.settings.worker_database_url),
                "JARVIS_ANALYSIS_BACKEND": "local",
                "JARVIS_WORKER_STALLED_AFTER_S": "3",
                "JARVIS_DATA_DIR": str(self.logs),
                **env,
            }
        )
        with (self.logs / f"{name}.log").open("wb") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from cloud_api.cli import main; main()",
                    "worker",
                    "--name",
                    name,
                    "--concurrency",
                    "2",
                ],
                env=base,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def workers(postgres: PostgresServer, admin: str, tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(postgres, admin, tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()


def wait_for(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_two_workers_run_each_job_once(admin: str, workers: Workers) -> None:
    gym = world.add_gym(admin, "two-workers")
    workers.start("w1")
    workers.start("w2")
    sessions = [
        world.store_session(admin, gym, world.add_member(admin, gym, f"M{i}"), [COMPLAINT])
        for i in range(24)
    ]
    wait_for(
        lambda: (
            world.one(
                admin,
                "select count(*) from conversation_summaries where status = 'done' and gym_id = %s",
                (gym.id,),
            )
            == len(sessions)
        ),
        60,
        "the workers did not analyse every session",
    )
    logs = workers.log("w1") + workers.log("w2")
    runs = re.findall(r"session ([0-9a-f-]{36}) analysed", logs)
    assert sorted(runs) == sorted(map(str, sessions))  # each once, none twice
    assert (
        world.one(
            admin, "select max(attempts) from conversation_summaries where gym_id = %s", (gym.id,)
        )
        == 1
    )
    assert world.one(
        admin,
        "select count(*) from manager_alerts where gym_id = %s and alert_type = 'negative_feedback'",
        (gym.id,),
    ) == len(sessions)


def test_a_worker_killed_mid_job_has_its_job_run_again_once(
    admin: str, workers: Workers, simulator: ServerThread
) -> None:
    gym = world.add_gym(admin, "killed-worker")
    member = world.add_member(admin, gym, "Sam")
    slow = workers.start(
        "slow",
        JARVIS_ANALYSIS_BACKEND="openai",
        OPENAI_API_KEY=KEY,
        OPENAI_BASE_URL=f"{simulator.base_url}/v1",
        JARVIS_ANALYSIS_TIMEOUT_S="60",
    )
    session = world.store_session(admin, gym, member, [f"{COMPLAINT} [sim:slow=20]"])
    wait_for(
        lambda: (
            world.one(
                admin,
                "select count(*) from procrastinate.procrastinate_jobs where status = 'doing' "
                "and args ->> 'session_id' = %s",
                (str(session),),
            )
            == 1
        ),
        30,
        "the slow worker never started the job",
    )
    wait_for(  # the attempt is counted (its own transaction), and the model is being asked
        lambda: (
            world.one(
                admin,
                "select attempts from conversation_summaries where session_id = %s",
                (session,),
            )
            == 1
        ),
        30,
        "the slow worker never counted its attempt",
    )
    slow.kill()  # mid-job: no clean shutdown, no chance to record anything
    slow.wait(timeout=10)
    time.sleep(4)  # longer than JARVIS_WORKER_STALLED_AFTER_S: the dead worker is stale
    workers.start("rescuer")
    wait_for(
        lambda: (
            world.one(
                admin, "select status from conversation_summaries where session_id = %s", (session,)
            )
            == "done"
        ),
        30,
        "the job of the killed worker was not run again",
    )
    assert "queued again" in workers.log("rescuer")
    assert world.one(
        admin,
        "select attempts, analyzer from conversation_summaries where session_id = %s",
        (session,),
    ) == (2, "local-v1")
    assert (
        world.one(
            admin,
            "select total_conversations from member_analytics where member_id = %s",
            (member,),
        )
        == 1
    )
    assert (
        world.one(admin, "select count(*) from manager_alerts where member_id = %s", (member,)) == 1
    )
    assert (
        world.one(
            admin,
            "select count(*) from procrastinate.procrastinate_jobs where args ->> 'session_id' = %s "
            "and status in ('todo', 'doing')",
            (str(session),),
        )
        == 0
    )


def test_workers_stop_on_sigterm_and_sigint(workers: Workers) -> None:
    procs = {
        stop: workers.start(f"stopping-{stop.name}") for stop in (signal.SIGTERM, signal.SIGINT)
    }
    for stop in procs:
        wait_for(
            lambda s=stop: "Starting worker" in workers.log(f"stopping-{s.name}"), 60, "no start"
        )  # type: ignore[misc]
    for stop, proc in procs.items():
        proc.send_signal(stop)
    for stop, proc in procs.items():
        assert proc.wait(timeout=30) in (0, 130), stop
        assert "Stopped worker" in workers.log(f"stopping-{stop.name}")
