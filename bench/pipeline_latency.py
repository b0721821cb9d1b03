"""From a stored session to its analysis, analytics and alert being visible, with one
worker running (goal: p95 ≤ 5 s), on `db seed --scale` data.

Sessions in which a member complains (so each raises a negative-feedback alert) are stored
one at a time, as a kiosk's upload stores them, a second apart; for each the benchmark polls
(every 20 ms) until the summary is done and until the alert is visible. Baseline in the same
run: the worker's own wake-up, i.e. the time to its first `processing` mark. Prints p50/p95/max
and writes `bench/results/pipeline_latency.json`.

    python -m bench.pipeline_latency [--data-dir .jarvis-bench] [--sessions 60]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import psycopg

from bench.machine import machine
from bench.pipeline_common import start_worker, stop, store_sessions
from cloud_api.db.embedded import WORKER_ROLE, EmbeddedPostgres, with_params
from cloud_api.db.migrate import migrate
from cloud_api.pipeline.analysis import Transcript, Turn

RESULTS = Path(__file__).parent / "results" / "pipeline_latency.json"
COMPLAINT = (
    "Le tapis de course numéro trois est encore en panne, c'est vraiment pénible, j'en ai marre."
)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    import uuid

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(".jarvis-bench"))
    parser.add_argument("--sessions", type=int, default=60)
    args = parser.parse_args()
    server = EmbeddedPostgres(args.data_dir)
    admin = server.start()
    worker = None
    picked, done, alerted = [], [], []
    try:
        migrate(admin)
        worker_url = with_params(admin, user=WORKER_ROLE, password="")
        logs = Path(tempfile.mkdtemp(prefix="jarvis-bench-latency-"))
        worker = start_worker(admin, worker_url, logs / "worker.log", 4, "latency")
        time.sleep(5)  # let the startup's periodic jobs (kiosk health...) pass
        with psycopg.connect(admin, autocommit=True) as conn:
            for i in range(args.sessions):
                t = Transcript(uuid.uuid4(), "fr", None, (Turn("user", COMPLAINT),))
                started = time.perf_counter()
                store_sessions(admin, [t], seed=1000 + i)
                member = conn.execute(
                    "select member_id from realtime_sessions where id = %s", (t.session_id,)
                ).fetchone()[0]  # type: ignore[index]
                marks: dict[str, float] = {}
                while "alert" not in marks:
                    row = conn.execute(
                        "select c.attempts > 0, c.status = 'done', exists (select 1 from "
                        "manager_alerts a where a.member_id = %s "
                        "and a.context ->> 'session_id' = %s) "
                        "from conversation_summaries c where c.session_id = %s",
                        (member, str(t.session_id), t.session_id),
                    ).fetchone()
                    now = time.perf_counter() - started
                    if row and row[0]:
                        marks.setdefault("picked", now)
                    if row and row[1]:
                        marks.setdefault("done", now)
                    if row and row[2]:
                        marks["alert"] = now
                    time.sleep(0.02)
                    if now > 60:
                        raise RuntimeError(f"session {t.session_id}: no alert after 60 s")
                picked.append(marks.get("picked", marks["alert"]))
                done.append(marks.get("done", marks["alert"]))
                alerted.append(marks["alert"])
                time.sleep(max(0.0, 1.0 - (time.perf_counter() - started)))
    finally:
        if worker is not None:
            stop([worker])
        server.stop()
    report = {"machine": machine(), "sessions": args.sessions, "goal_p95_s": 5}
    for name, values in (
        ("picked_up (baseline)", picked),
        ("summary_done", done),
        ("alert_visible", alerted),
    ):
        figures = {
            "p50": round(statistics.median(values), 3),
            "p95": round(percentile(values, 95), 3),
            "max": round(max(values), 3),
        }
        report[name] = figures
        p50, p95, top = figures["p50"], figures["p95"], figures["max"]
        print(f"{name}: p50 {p50:.2f} s, p95 {p95:.2f} s, max {top:.2f} s")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2, default=str))
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
