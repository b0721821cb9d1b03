"""What the pipeline benchmarks share: transcripts from the demo's phrases, sessions stored
for the scale data's members, worker processes, the bench database."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg

from cloud_api.pipeline.analysis import Transcript, Turn
from cloud_api.seed.content import EXCHANGES


def transcripts(count: int, seed: int = 1) -> list[Transcript]:
    """Conversations of 1-3 exchanges, three in four in French."""
    rng = random.Random(seed)
    made = []
    for i in range(count):
        lang = "en" if i % 4 == 0 else "fr"
        exchanges = rng.sample(EXCHANGES[lang], k=rng.randint(1, 3))
        turns = tuple(t for e in exchanges for t in (Turn("user", e[3]), Turn("assistant", e[4])))
        made.append(Transcript(uuid.uuid4(), lang, "Julie", turns, ()))
    return made


def store_sessions(admin: str, transcripts_: list[Transcript], seed: int = 2) -> list[uuid.UUID]:
    """Sessions with their turns for random scale members, one transaction each (as uploads
    are); the database queues each one's analysis."""
    rng = random.Random(seed)
    with psycopg.connect(admin, autocommit=True) as conn:
        gyms = conn.execute(
            "select g.id, k.id from gyms g join kiosks k on k.gym_id = g.id "
            "where g.slug like 'scale-gym-%%' order by g.slug limit 100"
        ).fetchall()
        ids = []
        for t in transcripts_:
            gym, kiosk = rng.choice(gyms)
            member = conn.execute(
                "select id from gym_members where gym_id = %s offset %s limit 1",
                (gym, rng.randint(0, 999)),
            ).fetchone()
            assert member is not None
            with conn.transaction():
                conn.execute(
                    "insert into realtime_sessions (id, gym_id, kiosk_id, member_id, started_at, "
                    "ended_at, status, end_reason, model, language) values (%s, %s, %s, %s, "
                    "now() - interval '2 minutes', now(), 'closed', 'goodbye', "
                    "'gpt-realtime-mini', %s)",
                    (t.session_id, gym, kiosk, member[0], t.language),
                )
                for i, turn in enumerate(t.turns):
                    conn.execute(
                        "insert into conversation_turns (session_id, gym_id, turn_index, role, "
                        "content) values (%s, %s, %s, %s, %s)",
                        (t.session_id, gym, i, turn.role, turn.content),
                    )
            ids.append(t.session_id)
    return ids


def start_worker(
    admin: str, worker_url: str, log: Path, concurrency: int, name: str
) -> subprocess.Popen[bytes]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JARVIS_", "OPENAI_", "DATABASE_URL"))
    }
    env.update(
        {
            "DATABASE_URL": admin,
            "JARVIS_WORKER_DATABASE_URL": worker_url,
            "JARVIS_ANALYSIS_BACKEND": "local",
        }
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from cloud_api.cli import main; main()",
                "worker",
                "--name",
                name,
                "--concurrency",
                str(concurrency),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while "Starting worker" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the worker did not start: see {log}")
        time.sleep(0.2)
    return proc


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
