"""Session analysis throughput with the local analyzer (goal: ≥ 200 sessions/s on 2 cores).

1. The analyzer alone (lexicon sentiment, keywords, summary, local embedding) on French and
   English transcripts: one process — the baseline — then one process per core.
2. The whole chain on `db seed --scale` data with real `jarvis-cloud worker` processes (one
   per core): sessions stored first as uploads store them (the database queues each
   analysis), then the workers drain the queue — analysis, the member's analytics and churn
   refreshed, alerts raised (and their delivery jobs run), all through the worker's role.
   Measured over the summaries' timestamps, first to last.

Prints sessions/s and the ratio to the baseline; writes `bench/results/pipeline_analysis.json`.

    python -m bench.pipeline_analysis [--data-dir .jarvis-bench] [--sessions 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psycopg

from bench.machine import machine
from bench.pipeline_common import start_worker, stop, store_sessions, transcripts
from cloud_api.db.embedded import WORKER_ROLE, EmbeddedPostgres, with_params
from cloud_api.db.migrate import migrate
from cloud_api.pipeline.local_analyzer import analyze_locally
from cloud_api.pipeline.sentiment import warm_up

RESULTS = Path(__file__).parent / "results" / "pipeline_analysis.json"


def _analyse_batch(seed_and_count: tuple[int, int]) -> int:
    seed, count = seed_and_count
    warm_up()
    batch = transcripts(count, seed)
    for t in batch:
        analyze_locally(t)
    return count


def analyzer_rate(count: int, processes: int) -> float:
    per = count // processes
    if processes == 1:
        warm_up()
        batch = transcripts(per, 7)
        started = time.perf_counter()
        for t in batch:
            analyze_locally(t)
        return per / (time.perf_counter() - started)
    with ProcessPoolExecutor(processes) as pool:
        list(pool.map(_analyse_batch, [(100 + i, 20) for i in range(processes)]))  # warm
        started = time.perf_counter()
        done = sum(pool.map(_analyse_batch, [(i, per) for i in range(processes)]))
        # Each process warms up again (cached: free) and builds its transcripts (a few ms).
        return done / (time.perf_counter() - started)


def chain_rate(data_dir: Path, count: int, workers: int) -> tuple[float, float]:
    """(sessions stored per second, sessions analysed per second by the workers).

    The sessions are stored first, as uploads store them (one transaction each, the analysis
    queued in it), then the workers start on the queue: storing from one connection while
    the workers run measured that connection's commits, not the analysis. The analysis rate
    is over the summaries' own timestamps, first to last, so worker start-up is left out."""
    server = EmbeddedPostgres(data_dir)
    admin = server.start()
    procs = []
    try:
        migrate(admin)
        worker_url = with_params(admin, user=WORKER_ROLE, password="")
        logs = Path(tempfile.mkdtemp(prefix="jarvis-bench-workers-"))
        batch = transcripts(count, 11)
        started = time.perf_counter()
        ids = store_sessions(admin, batch)
        stored = len(ids) / (time.perf_counter() - started)
        procs = [
            start_worker(admin, worker_url, logs / f"w{i}.log", 4, f"bench-{i}")
            for i in range(workers)
        ]
        with psycopg.connect(admin) as conn:
            while True:
                row = conn.execute(
                    "select count(*), extract(epoch from max(processed_at) - min(processed_at)) "
                    "from conversation_summaries where session_id = any(%s) and status = 'done'",
                    (ids,),
                ).fetchone()
                if row and row[0] == len(ids):
                    break
                time.sleep(0.2)
        return stored, (len(ids) - 1) / float(row[1])
    finally:
        stop(procs)
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(".jarvis-bench"))
    parser.add_argument("--sessions", type=int, default=2000)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    baseline = analyzer_rate(args.sessions, 1)
    print(f"analyzer, 1 process (baseline): {baseline:.0f} sessions/s")
    parallel = analyzer_rate(args.sessions, cores)
    print(f"analyzer, {cores} processes: {parallel:.0f} sessions/s ({parallel / baseline:.2f}×)")
    stored, chain = chain_rate(args.data_dir, args.sessions // 2, cores)
    print(f"sessions stored (one connection, one transaction each): {stored:.0f}/s")
    print(
        f"whole chain, {cores} workers on scale data: {chain:.0f} sessions/s "
        f"({chain / baseline:.2f}× the baseline)"
    )
    report = {
        "machine": machine(),
        "sessions": args.sessions,
        "cores": cores,
        "analyzer_1_process": round(baseline, 1),
        f"analyzer_{cores}_processes": round(parallel, 1),
        "chain_workers": cores,
        "chain_sessions_per_s": round(chain, 1),
        "stored_sessions_per_s": round(stored, 1),
        "goal": 200,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2, default=str))
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
