"""Server time of the dashboard's main pages on `db seed --scale` data (issue 11: ≤ 150 ms).

Serves the real app (uvicorn on 127.0.0.1, the API role under RLS) over the benchmark's data
folder, signs in as a gym manager (1,000 members, 10,000 sessions) and as a franchise owner
(9 gyms), and requests each main page `--iterations` times after a warm-up. The server time
is the page's own `Server-Timing` header (from the request's arrival to the response's
start); the baseline, measured in the same run, is `GET /health` (one transaction, one
`select now()`) timed by the client, next to each page's client time.

    python -m bench.dashboard_pages [--gyms 1000] [--iterations 40] [--data-dir .jarvis-bench]

Writes bench/results/dashboard_pages.json.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import threading
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psycopg
import uvicorn

from bench.machine import machine
from cloud_api.app import create_app
from cloud_api.config import CloudSettings
from cloud_api.db.migrate import migrate
from cloud_api.runtime import resolved_database
from cloud_api.seed.scale import ScalePlan, seed_scale

RESULTS = Path(__file__).parent / "results" / "dashboard_pages.json"
TIMING = re.compile(r"app;dur=([0-9.]+)")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Server:
    def __init__(self, app: Any, port: int) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def pages_for(admin_url: str, role: str) -> tuple[UUID, str, list[str]]:
    """The user, their email and the pages to time (ids of their own gym's rows)."""
    with psycopg.connect(admin_url) as conn:
        email = "manager.1@scale.invalid" if role == "manager" else "owner.1@scale.invalid"
        row = conn.execute(
            "select u.id, coalesce(u.gym_id, (select min(g.id::text)::uuid from gyms g "
            "where g.franchise_id = u.franchise_id)) from users u where u.email = %s",
            (email,),
        ).fetchone()
        assert row is not None, "no scale data: run with --gyms"
        user_id, gym_id = row
        member = conn.execute(
            "select member_id from member_analytics where gym_id = %s "
            "order by churn_risk_score desc limit 1",
            (gym_id,),
        ).fetchone()
        session = conn.execute(
            "select id from realtime_sessions where gym_id = %s order by started_at desc limit 1",
            (gym_id,),
        ).fetchone()
        assert member is not None
        assert session is not None
    pages = [
        "/dashboard",
        "/dashboard/members",
        "/dashboard/members?sort=engagement",
        "/dashboard/members?q=Member42",
        "/dashboard/members?risk=critical&sort=last_visit",
        f"/dashboard/members/{member[0]}",
        "/dashboard/sessions",
        f"/dashboard/sessions/{session[0]}",
        "/dashboard/alerts",
        "/dashboard/kiosks",
        "/dashboard/analytics",
        "/dashboard/insights",
    ]
    if role == "owner":
        pages.append("/dashboard/franchise")
    return user_id, email, pages


def time_pages(
    client: httpx.Client, pages: list[str], iterations: int
) -> dict[str, dict[str, float]]:
    results = {}
    # The second page of members: its cursor comes from the first page's link.
    first = client.get("/dashboard/members")
    found = re.search(r'href="(/dashboard/members\?[^"]*cursor=[^"]+)"', first.text)
    if found:
        pages = [*pages, found.group(1).replace("&amp;", "&")]
    for page in pages:
        server: list[float] = []
        wall: list[float] = []
        for i in range(iterations + 5):
            started = time.perf_counter()
            response = client.get(page)
            took = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, (page, response.status_code, response.text[:300])
            if i >= 5:  # warm-up
                server.append(float(TIMING.search(response.headers["server-timing"])[1]))  # type: ignore[index]
                wall.append(took)
        name = "members page 2" if "cursor=" in page else page
        results[name] = {
            "server_p50_ms": round(statistics.median(server), 1),
            "server_p95_ms": round(percentile(server, 0.95), 1),
            "client_p95_ms": round(percentile(wall, 0.95), 1),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gyms", type=int, default=1000)
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--data-dir", type=Path, default=Path(".jarvis-bench"))
    parser.add_argument("--port", type=int, default=8471)
    parser.add_argument("--analyze", action="store_true", help="ANALYZE first (slow).")
    args = parser.parse_args()
    settings = CloudSettings(_env_file=None, data_dir=args.data_dir, environment="development")
    report: dict[str, Any] = {"machine": machine(), "gyms": args.gyms}
    with resolved_database(settings) as resolved:
        assert resolved.database_url
        migrate(resolved.database_url)
        print(seed_scale(resolved.database_url, ScalePlan(gyms=args.gyms), progress=True))
        if args.analyze:  # after a fresh seed; autovacuum has done it on a settled folder
            with psycopg.connect(resolved.database_url, autocommit=True) as conn:
                conn.execute("analyze")
        app = create_app(resolved)
        issuer = app.state.services.local_issuer
        with Server(app, args.port):
            base = f"http://127.0.0.1:{args.port}"
            with httpx.Client(base_url=base, timeout=60) as client:
                health = []
                for i in range(args.iterations + 5):
                    started = time.perf_counter()
                    client.get("/health").raise_for_status()
                    if i >= 5:
                        health.append((time.perf_counter() - started) * 1000)
                report["baseline_health_client_p95_ms"] = round(percentile(health, 0.95), 1)
            for role in ("manager", "owner"):
                user_id, email, pages = pages_for(resolved.database_url, role)
                token = issuer.mint(user_id, email)
                with httpx.Client(
                    base_url=base, timeout=60, cookies={"jarvis-at": token}
                ) as client:
                    report[role] = time_pages(client, pages, args.iterations)
    baseline = report["baseline_health_client_p95_ms"]
    print(f"baseline: GET /health p95 {baseline} ms (client)")
    for role in ("manager", "owner"):
        print(f"\n{role}: page  server p50 / p95 (ms)  client p95 (ms)  × /health")
        for page, figures in report[role].items():
            print(
                f"  {page:<48} {figures['server_p50_ms']:>7} / {figures['server_p95_ms']:<7} "
                f"{figures['client_p95_ms']:>8}  {figures['client_p95_ms'] / baseline:>6.1f}"
            )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2, default=str))
    print(f"\nwritten {RESULTS}")


if __name__ == "__main__":
    main()
