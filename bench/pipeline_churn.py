"""The daily churn job on `db seed --scale` data (1,000 gyms: 1,000,000 members, 10,000,000
sessions): every member's analytics and churn risk, then the churn alerts, in one call as the
worker's role — exactly what the 02:00 UTC job runs.

Baseline, in the same run: the one scan the job cannot avoid, grouping every closed session
by member (`count`, `max(started_at)`). Three runs: as of now (after the seed: most rows
move), as of tomorrow (the real nightly case: every member's days since the last visit moves,
most updates are HOT), and tomorrow again (idempotent: nothing is written). Prints seconds and
the ratio job / baseline, and writes `bench/results/pipeline_churn.json`. Goal: ≤ 20 s for
1,000,000 members.

    python -m bench.pipeline_churn [--data-dir .jarvis-bench] [--gyms 1000]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench.machine import machine
from cloud_api.db.embedded import WORKER_ROLE, EmbeddedPostgres, with_params
from cloud_api.db.migrate import migrate
from cloud_api.seed.scale import ScalePlan, seed_scale

RESULTS = Path(__file__).parent / "results" / "pipeline_churn.json"
BASELINE = (
    "select count(*) from (select member_id, count(*), max(started_at) from realtime_sessions "
    "where status = 'closed' and member_id is not null group by member_id) per_member"
)


def timed(url: str, sql: str, params: tuple[Any, ...] = ()) -> tuple[float, Any]:
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        row = conn.execute(sql.encode(), params).fetchone()
        conn.commit()
        return time.perf_counter() - started, row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(".jarvis-bench"))
    parser.add_argument("--gyms", type=int, default=1000)
    args = parser.parse_args()
    server = EmbeddedPostgres(args.data_dir)
    admin = server.start()
    try:
        migrate(admin)
        print(f"seeding (resumes if already there): {args.gyms} gyms")
        print(seed_scale(admin, ScalePlan(gyms=args.gyms), progress=True))
        worker = with_params(admin, user=WORKER_ROLE, password="")
        members = timed(admin, "select count(*) from gym_members")[1][0]
        now = datetime.now(UTC)
        baseline, _ = timed(admin, BASELINE)
        runs = []
        tomorrow = now + timedelta(days=1)
        for label, at in (
            ("as of now", now),
            ("next day (nightly case)", tomorrow),
            ("next day again (idempotent)", tomorrow),
        ):
            seconds, row = timed(worker, "select * from private.job_daily_churn(%s)", (at,))
            runs.append(
                {
                    "run": label,
                    "seconds": round(seconds, 2),
                    "analytics_changed": row[0],
                    "alerts_raised": row[1],
                    "ratio_to_baseline": round(seconds / baseline, 2),
                }
            )
            print(
                f"{label}: {seconds:.1f} s for {members:,} members "
                f"({row[0]:,} analytics rows changed, {row[1]:,} alerts), "
                f"{seconds / baseline:.1f}× the baseline scan"
            )
        print(f"baseline (group every session by member): {baseline:.1f} s")
        report = {
            "machine": machine(),
            "members": members,
            "baseline_seconds": round(baseline, 2),
            "runs": runs,
            "goal_seconds": 20,
        }
    finally:
        server.stop()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2, default=str))
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
