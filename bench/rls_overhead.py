"""RLS overhead on the dashboard's main queries, on `db seed --scale` data.

Each query runs as a gym manager and as a franchise owner (jarvis_api + claims, RLS on) and,
as the baseline in the same run, the same query as `service_role` (BYPASSRLS). Prints p50 and
p95 per query and caller and the ratio RLS / baseline, and writes
`bench/results/rls_overhead.json`.

    python -m bench.rls_overhead [--gyms 1000] [--iterations 200]

The data folder defaults to ./.jarvis-bench (seeded on first use: ~1,000,000 members and
10,000,000 sessions take about 6 minutes and 6 GB here).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench.machine import machine
from cloud_api.db.database import SET_REQUEST_CONTEXT, request_context
from cloud_api.db.embedded import EmbeddedPostgres
from cloud_api.db.migrate import migrate
from cloud_api.seed.scale import ScalePlan, seed_scale

RESULTS = Path(__file__).parent / "results" / "rls_overhead.json"

QUERIES = {
    # Rank first, then join the 50 winners: Postgres never sorts a relation below a join, so
    # the join-then-sort form joins every member of the scope first. Without RLS a parallel
    # Gather Merge hides that; with RLS (whose helpers are not parallel safe) it costs 4x.
    "members_by_churn_risk": (
        "select m.id, m.first_name, m.last_name, a.churn_risk_score, a.churn_risk_level "
        "from (select member_id, churn_risk_score, churn_risk_level from member_analytics "
        "      where gym_id = any(%(gyms)s) "
        "      order by churn_risk_score desc nulls last limit 50) a "
        "join gym_members m on m.id = a.member_id "
        "order by a.churn_risk_score desc nulls last"
    ),
    "sessions_of_the_week": (
        "select s.gym_id, count(*) as sessions, sum(s.cost_usd) as cost, "
        "avg(s.duration_seconds) as avg_duration "
        "from realtime_sessions s "
        "where s.gym_id = any(%(gyms)s) and s.started_at >= %(since)s and s.started_at < %(until)s "
        "group by s.gym_id"
    ),
    "open_alerts": (
        "select a.id, a.title, a.priority, a.status, a.created_at from manager_alerts a "
        "where a.gym_id = any(%(gyms)s) and a.status in ('pending', 'in_progress') "
        "order by a.created_at desc limit 50"
    ),
}


@dataclass
class Caller:
    kind: str  # gym_manager | franchise_owner
    user_id: str
    gyms: list[str]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def pick_callers(admin: psycopg.Connection, rng: random.Random, n: int) -> list[Caller]:
    callers: list[Caller] = []
    managers = admin.execute(
        "select u.id::text, u.gym_id::text from users u where u.role = 'gym_manager' "
        "and u.email like '%%@scale.invalid'"
    ).fetchall()
    owners = admin.execute(
        "select u.id::text, array_agg(g.id::text) from users u join gyms g "
        "on g.franchise_id = u.franchise_id where u.role = 'franchise_owner' "
        "and u.email like '%%@scale.invalid' group by u.id"
    ).fetchall()
    for user_id, gym in rng.sample(managers, min(n, len(managers))):
        callers.append(Caller("gym_manager", user_id, [gym]))
    for user_id, gyms in rng.sample(owners, min(n, len(owners))):
        callers.append(Caller("franchise_owner", user_id, list(gyms)))
    return callers


def time_query(
    conn: psycopg.Connection, sql: str, params: dict[str, Any], claims: dict[str, Any] | None
) -> float:
    with conn.transaction(force_rollback=True):
        if claims is None:
            conn.execute("set local role service_role")
        else:
            conn.execute(SET_REQUEST_CONTEXT, request_context(claims))
        start = time.perf_counter()
        conn.execute(sql.encode(), params).fetchall()
        return (time.perf_counter() - start) * 1000


def run(gyms: int, iterations: int, data_dir: Path) -> dict[str, Any]:
    server = EmbeddedPostgres(data_dir)
    admin_url = server.start()
    try:
        migrate(admin_url)
        print(f"seeding (resumes if already there): {gyms} gyms")
        print(seed_scale(admin_url, ScalePlan(gyms=gyms), progress=True))
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute("analyze")
            members = admin.execute("select count(*) from gym_members").fetchone()
            sessions = admin.execute("select count(*) from realtime_sessions").fetchone()
            rng = random.Random(42)
            callers = pick_callers(admin, rng, 50)
        api_url = server.api_url(admin_url)
        until = ScalePlan(gyms=gyms).epoch
        since = until - timedelta(days=7)
        results: dict[str, Any] = {}
        with psycopg.connect(api_url) as api, psycopg.connect(admin_url) as baseline:
            for name, sql in QUERIES.items():
                for kind in ("gym_manager", "franchise_owner"):
                    pool = [c for c in callers if c.kind == kind]
                    rls: list[float] = []
                    base: list[float] = []
                    for i in range(iterations + 10):
                        caller = pool[i % len(pool)]
                        params = {"gyms": caller.gyms, "since": since, "until": until}
                        claims = {"sub": caller.user_id, "role": "authenticated"}
                        # Alternate the order so caching favours neither side.
                        if i % 2:
                            r = time_query(api, sql, params, claims)
                            b = time_query(baseline, sql, params, None)
                        else:
                            b = time_query(baseline, sql, params, None)
                            r = time_query(api, sql, params, claims)
                        if i >= 10:  # warm-up
                            rls.append(r)
                            base.append(b)
                    row = {
                        "rls_p50_ms": round(statistics.median(rls), 3),
                        "rls_p95_ms": round(percentile(rls, 0.95), 3),
                        "service_role_p50_ms": round(statistics.median(base), 3),
                        "service_role_p95_ms": round(percentile(base, 0.95), 3),
                    }
                    row["ratio_p50"] = round(row["rls_p50_ms"] / row["service_role_p50_ms"], 2)
                    row["ratio_p95"] = round(row["rls_p95_ms"] / row["service_role_p95_ms"], 2)
                    results[f"{name}/{kind}"] = row
        return {
            "benchmark": "rls_overhead",
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "data": {
                "gyms": gyms,
                "members": members[0] if members else 0,
                "sessions": sessions[0] if sessions else 0,
            },
            "iterations": iterations,
            "results": results,
        }
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gyms", type=int, default=1000, help="scale: gyms (1,000 members each)")
    parser.add_argument("--iterations", type=int, default=200, help="timed runs per query/caller")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".jarvis-bench"),
        help="embedded database folder for the benchmark data",
    )
    args = parser.parse_args()
    report = run(args.gyms, args.iterations, args.data_dir)
    print(
        f"\n{report['data']['members']:,} members, {report['data']['sessions']:,} sessions "
        f"({report['machine']['cpu']}, {report['machine']['cores']} cores)"
    )
    print(
        f"{'query / caller':45} {'RLS p50':>9} {'RLS p95':>9} {'base p50':>9} "
        f"{'base p95':>9} {'ratio50':>8} {'ratio95':>8}"
    )
    for key, row in report["results"].items():
        print(
            f"{key:45} {row['rls_p50_ms']:9.2f} {row['rls_p95_ms']:9.2f} "
            f"{row['service_role_p50_ms']:9.2f} {row['service_role_p95_ms']:9.2f} "
            f"{row['ratio_p50']:8.2f} {row['ratio_p95']:8.2f}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
