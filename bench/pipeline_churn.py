"""The daily churn job on `db seed --scale` data (1,000 gyms: 1,000,000 members, 10,000,000
sessions): every member's churn risk, then the churn alerts, in one call as the worker's role
— exactly what the 02:00 UTC job runs.

Baseline, in the same run: grouping every closed session by member (`count`,
`max(started_at)`), the scan the job needed when it recomputed everyone from their sessions.
Then the job as of the next night after the last evaluation stored (the nightly case: time
passes, only the members whose recheck date has come are scored, only those whose outcome
moved are written), and the same again (idempotent: nothing written). With `--rebuild`,
first a rebuild of every member's stored inputs from their sessions (what the seed, or a
restore, runs once: minutes, not the nightly path). Last, what the dashboards pay for the
figures computed at read: one gym's members and all 1,000,000 through
`member_analytics_live`. Prints seconds and the ratio to the baseline, and writes
`bench/results/pipeline_churn.json`. Goal: ≤ 20 s for 1,000,000 members.

    python -m bench.pipeline_churn [--data-dir .jarvis-bench] [--gyms 1000] [--rebuild]
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

READ_ONE_GYM = (
    "select count(*), avg(engagement_score), avg(days_since_last_visit), "
    "avg(visit_frequency_per_week) from member_analytics_live where gym_id = %s"
)
REBUILD = "select private.refresh_member_analytics(null, %s), 0"
READ_ALL = "select count(*), avg(engagement_score) from member_analytics_live"


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
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="first rebuild every member's stored inputs from their sessions (minutes)",
    )
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
        # The next night after the last evaluation stored (the seed's, or a previous run's).
        last = timed(admin, "select max(last_churn_analysis_at) from member_analytics")[1][0]
        night = max(last or now, now) + timedelta(days=1)
        nightly = "select * from private.job_daily_churn(%s)"
        steps = [("next night (the nightly case)", night, nightly)]
        if args.rebuild:
            steps.insert(0, ("rebuild from sessions", night - timedelta(hours=1), REBUILD))
        steps.append(("the same night again (idempotent)", night, nightly))
        for label, at, call in steps:
            seconds, row = timed(admin if call == REBUILD else worker, call, (at,))
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
                f"{seconds / baseline:.2f}× the baseline scan"
            )
        gym = timed(admin, "select gym_id from member_analytics limit 1")[1][0]
        reads = {}
        for label, sql, params in (
            ("one gym's members, live figures", READ_ONE_GYM, (gym,)),
            ("all members, live figures", READ_ALL, ()),
        ):
            seconds, _ = timed(admin, sql, params)
            reads[label] = round(seconds, 3)
            print(f"read {label}: {seconds * 1000:.0f} ms")
        print(f"baseline (group every session by member): {baseline:.1f} s")
        report = {
            "machine": machine(),
            "members": members,
            "baseline_seconds": round(baseline, 2),
            "runs": runs,
            "reads_seconds": reads,
            "goal_seconds": 20,
        }
    finally:
        server.stop()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2, default=str))
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
