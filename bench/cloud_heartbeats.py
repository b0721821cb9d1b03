"""Heartbeats (and a session-upload mix) from N simulated kiosks against `jarvis-cloud serve`.

Starts the cloud on an embedded Postgres in a fresh folder, provisions N kiosks through the
real claim and token endpoints, then drives it with `wrk` (C, so the load generator costs
little CPU on the same 2 cores): every connection cycles through the kiosks' tokens; one
request in ten uploads a batch of 5 new session records. The baseline in the same run is
`GET /health` (one trivial database round trip) under the same load. Prints requests/s and
p50/p95/p99 and writes bench/results/cloud_heartbeats.json.

    python -m bench.cloud_heartbeats [--kiosks 500] [--seconds 30] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.machine import machine
from cloud_api.config import CloudSettings
from cloud_api.data import kiosks
from cloud_api.data.audit import SYSTEM
from cloud_api.db.admin import admin_transaction
from cloud_api.services import code_pepper

RESULTS = Path(__file__).parent / "results" / "cloud_heartbeats.json"

WRK_SCRIPT = r"""
local tokens = {}
local counter = 0
local mix = tonumber(os.getenv("SESSION_MIX") or "0")
local tokenfile = os.getenv("TOKENS")
for line in io.lines(tokenfile) do tokens[#tokens + 1] = line end
local members = {}
for m in string.gmatch(os.getenv("MEMBERS"), "[^,]+") do members[#members + 1] = m end

local function uuid4()
  local t = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"
  return (string.gsub(t, "[xy]", function(c)
    local v = (c == "x") and math.random(0, 15) or math.random(8, 11)
    return string.format("%x", v)
  end))
end

function setup(thread) thread:set("id", math.random(1, 100000)) end
function init(args) math.randomseed(os.time() + id) counter = id end

local heartbeat = '{"status":"online","software_version":"0.1.0","outbox_depth":0,' ..
  '"health":{"cpu_percent":12.5,"cpu_temp_c":48.0,"memory_percent":31.0,"disk_percent":22.0,' ..
  '"mic_ok":true,"reader_ok":true,"network_ok":true}}'

function request()
  counter = counter + 1
  local token = tokens[(counter % #tokens) + 1]
  local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
  if os.getenv("TARGET") == "health" then
    return wrk.format("GET", "/health", headers)
  end
  if mix > 0 and counter % mix == 0 then
    local records = {}
    for i = 1, 5 do
      local member = members[math.random(1, #members)]
      records[i] = '{"id":"' .. uuid4() .. '","member_id":"' .. member .. '",' ..
        '"started_at":"2026-11-20T10:00:00+00:00","ended_at":"2026-11-20T10:01:30+00:00",' ..
        '"end_reason":"goodbye","model":"gpt-realtime-mini",' ..
        '"usage":{"input_audio_tokens":900,"output_audio_tokens":1500},' ..
        '"turns":[{"index":0,"role":"user","content":"Bonjour"},' ..
        '{"index":1,"role":"assistant","content":"Bonjour !"}]}'
    end
    return wrk.format("POST", "/api/kiosk/sessions", headers,
      '{"sessions":[' .. table.concat(records, ",") .. ']}')
  end
  return wrk.format("POST", "/api/kiosk/heartbeat", headers, heartbeat)
end

local statuses = {}
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local out = {
    requests = summary.requests, duration_us = summary.duration,
    errors = summary.errors.connect + summary.errors.read + summary.errors.write +
             summary.errors.status + summary.errors.timeout,
    non_2xx = summary.errors.status,
    p50_ms = latency:percentile(50) / 1000, p95_ms = latency:percentile(95) / 1000,
    p99_ms = latency:percentile(99) / 1000, max_ms = latency.max / 1000,
  }
  local parts = {}
  for k, v in pairs(out) do parts[#parts + 1] = string.format('"%s": %s', k, tostring(v)) end
  io.write("WRK_JSON {" .. table.concat(parts, ", ") .. "}\n")
end
"""


def wait_for(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the cloud exited during start-up; see its log")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("the cloud did not come up")


def provision(base: str, settings: CloudSettings, admin_url: str, count: int) -> list[str]:
    async def codes() -> list[str]:
        out = []
        async with admin_transaction(admin_url) as conn:
            for i in range(count):
                issued = await kiosks.create_kiosk(
                    conn,
                    gym_slug="bench-gym",
                    name=f"Kiosk {i}",
                    location=None,
                    pepper=code_pepper(settings),
                    ttl=timedelta(hours=1),
                    actor=SYSTEM,
                )
                out.append(issued.code)
        return out

    tokens = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for i, code in enumerate(asyncio.run(codes())):
            claim = client.post(
                "/api/kiosk/provision", json={"code": code, "device_id": f"bench-{i}"}
            ).json()
            token = client.post(
                "/api/kiosk/token",
                json={"kiosk_id": claim["kiosk_id"], "credential": claim["credential"]},
            ).json()
            tokens.append(token["access_token"])
    return tokens


def run_wrk(
    base: str, env: dict[str, str], script: Path, seconds: int, connections: int
) -> dict[str, Any]:
    result = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(script),
            base,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in result.stdout.splitlines() if x.startswith("WRK_JSON "))
    data: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    data["requests_per_s"] = round(data["requests"] / (data["duration_us"] / 1e6), 1)
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kiosks", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--session-mix",
        type=int,
        default=10,
        help="one request in N uploads 5 sessions (0: heartbeats only)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: sudo apt-get install wrk")

    data_dir = Path(tempfile.mkdtemp(prefix="jarvis-bench-hb-"))
    data_dir.chmod(0o755)
    port = 8765
    env = {
        **os.environ,
        "JARVIS_DATA_DIR": str(data_dir),
        "JARVIS_TOKEN_SECRET": uuid.uuid4().hex,
        "JARVIS_KIOSK_TOKEN_TTL_S": "3600",
        "JARVIS_RATE_LIMIT_API_PER_MIN": "100000000",
        "JARVIS_DB_POOL_MAX": "20",
    }
    env.pop("DATABASE_URL", None)
    log = (data_dir / "serve.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from cloud_api.cli import main; main()",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/health", proc)
        from cloud_api.db.embedded import EmbeddedPostgres

        admin_url = EmbeddedPostgres(data_dir).start()
        settings = CloudSettings(
            _env_file=None,
            data_dir=data_dir,  # type: ignore[call-arg]
            token_secret=env["JARVIS_TOKEN_SECRET"],
        )
        with psycopg.connect(admin_url) as conn:
            conn.execute("insert into gyms (slug, name) values ('bench-gym', 'Bench Gym')")
            members = [
                row[0]
                for row in conn.execute(
                    "insert into gym_members (gym_id, badge_id, first_name) "
                    "select g.id, upper(lpad(to_hex(i), 8, '0')), 'Bench ' || i "
                    "from gyms g, generate_series(1, 1000) i where g.slug = 'bench-gym' "
                    "returning id"
                ).fetchall()
            ]
        print(f"provisioning {args.kiosks} kiosks through the claim and token endpoints…")
        tokens = provision(base, settings, admin_url, args.kiosks)
        token_file = data_dir / "tokens.txt"
        token_file.write_text("\n".join(tokens) + "\n")
        script = data_dir / "load.lua"
        script.write_text(WRK_SCRIPT)
        wrk_env = {**os.environ, "TOKENS": str(token_file), "MEMBERS": ",".join(map(str, members))}
        runs = {}
        for name, extra in (
            ("health_baseline", {"TARGET": "health"}),
            ("heartbeats", {"SESSION_MIX": "0"}),
            ("heartbeats_with_session_mix", {"SESSION_MIX": str(args.session_mix)}),
        ):
            print(f"{name}: {args.seconds} s, {args.connections} connections…")
            runs[name] = run_wrk(base, {**wrk_env, **extra}, script, args.seconds, args.connections)
        with psycopg.connect(admin_url) as conn:
            stored = conn.execute(
                "select (select count(*) from kiosk_heartbeats), "
                "(select count(*) from realtime_sessions)"
            ).fetchone()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        log.close()
    report = {
        "benchmark": "cloud_heartbeats",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "kiosks": args.kiosks,
        "workers": args.workers,
        "connections": args.connections,
        "seconds": args.seconds,
        "runs": runs,
        "stored": {
            "heartbeats": stored[0] if stored else 0,
            "sessions": stored[1] if stored else 0,
        },
        "ratio_heartbeat_to_health_rps": round(
            runs["heartbeats"]["requests_per_s"] / runs["health_baseline"]["requests_per_s"], 2
        ),
    }
    print(f"\n{'run':32} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, r in runs.items():
        print(
            f"{name:32} {r['requests_per_s']:9.1f} {r['p50_ms']:8.2f} {r['p95_ms']:8.2f} "
            f"{r['p99_ms']:8.2f} {r['errors']:7d}"
        )
    print(f"heartbeats / health throughput: {report['ratio_heartbeat_to_health_rps']}")
    print(f"stored: {report['stored']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print(f"wrote {RESULTS}")
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
