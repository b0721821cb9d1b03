"""`jarvis-cloud demo` end to end: embedded Postgres, demo data, the API, the Realtime
simulator and a simulated kiosk that holds a whole conversation and uploads it; the worker
turns it into a summary, analytics, churn and alerts within seconds, and the alert email
lands in the demo's local mailbox."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
import psycopg

from cloud_api.db.embedded import EmbeddedPostgres
from tests.cli_process import postgres_running, still_running
from tests.cloud_server import free_port
from tests.web_client import WebClient


def test_make_demo_runs_the_whole_product() -> None:
    home = Path(tempfile.mkdtemp(prefix="jarvis-demo-test-"))
    home.chmod(0o755)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JARVIS_", "DATABASE_URL", "OPENAI_"))
    }
    env["JARVIS_DATA_DIR"] = str(home / "jarvis")
    port, simulator, badge, screen = free_port(), free_port(), free_port(), free_port()
    log = home / "demo.log"
    database = EmbeddedPostgres(home / "jarvis")  # joins the demo's server to read what it stored
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from cloud_api.cli import main; main()",
                "demo",
                "--port",
                str(port),
                "--simulator-port",
                str(simulator),
                "--badge-port",
                str(badge),
                "--screen-port",
                str(screen),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    children: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 240
        while "JARVIS is talking" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        assert httpx.get(f"http://127.0.0.1:{port}/health").json()["status"] == "ok"
        assert f"screen: http://127.0.0.1:{screen}/" in log.read_text()
        page = httpx.get(f"http://127.0.0.1:{screen}/state").json()  # the kiosk's screen
        assert page["simulate_badge"] is True
        kiosk_log = home / "jarvis" / "demo" / "logs" / "kiosk.log"
        while "recorded in the outbox" not in kiosk_log.read_text():
            assert time.monotonic() < deadline, kiosk_log.read_text()
            time.sleep(0.5)
        assert "ended (goodbye" in kiosk_log.read_text()
        admin = database.start()
        stored: list[tuple[object, ...]] = []
        while not stored:
            with psycopg.connect(admin) as conn:
                stored = conn.execute(
                    "select s.end_reason, s.turn_count, jsonb_array_length(s.tool_calls) "
                    "from realtime_sessions s join kiosks k on k.id = s.kiosk_id "
                    "where k.name = 'JARVIS Démo'"
                ).fetchall()
            assert time.monotonic() < deadline, "the session never reached the cloud"
            time.sleep(0.5)
        end_reason, turns, tools = stored[0]
        assert end_reason == "goodbye"
        assert int(str(turns)) >= 6
        assert int(str(tools)) >= 2  # JARVIS ran the cloud's tools for real
        # The member reported a broken treadmill and sounded unhappy: nobody touches the
        # database, the worker derives the rest within seconds.
        analysed: list[tuple[object, ...]] = []
        stored_at = time.monotonic()
        while not analysed:
            with psycopg.connect(admin) as conn:
                analysed = conn.execute(
                    "select c.sentiment_label, c.analyzer, c.summary_text, a.total_conversations,"
                    "       a.churn_risk_level, c.member_id "
                    "from conversation_summaries c join kiosks k on k.id = c.kiosk_id "
                    "join member_analytics a on a.member_id = c.member_id "
                    "where k.name = 'JARVIS Démo' and c.status = 'done' order by c.created_at"
                ).fetchall()
            assert time.monotonic() - stored_at < 30, "the session was not analysed"
            time.sleep(0.3)
        label, analyzer, summary, conversations, churn_level, member_id = analysed[0]
        assert (label, analyzer) == ("negative", "local-v1")
        assert "tapis" in str(summary)
        assert int(str(conversations)) >= 1
        assert churn_level in ("low", "medium", "high", "critical")
        with psycopg.connect(admin) as conn:
            kinds = {
                row[0]
                for row in conn.execute(
                    "select alert_type from manager_alerts where member_id = %s "
                    "and created_at > now() - interval '10 minutes'",
                    (member_id,),
                )
            }
        assert {"equipment_issue", "negative_feedback"} <= kinds
        mailbox = home / "jarvis" / "demo" / "mail"
        mails: list[str] = []
        while not any("tapis" in mail.lower() for mail in mails):
            assert time.monotonic() - stored_at < 60, "no alert email reached the mailbox"
            time.sleep(0.3)
            mails = [p.read_text(errors="replace") for p in mailbox.glob("*.eml")]
        assert "manager.bordeaux@atlas.demo" in next(m for m in mails if "tapis" in m.lower())
        # The schedule runs too: the worker deferred and ran the kiosk health check.
        worker_log = home / "jarvis" / "demo" / "logs" / "worker.log"
        while "kiosk_health done" not in worker_log.read_text(errors="replace"):
            assert time.monotonic() < deadline, worker_log.read_text(errors="replace")[-3000:]
            time.sleep(0.5)

        # The dashboard: its address and every role's login are printed; the Bordeaux
        # manager sees the demo kiosk's conversations, the treadmill alert, and — once the
        # second conversation is over — the unhappy member asking to speak to someone.
        printed = log.read_text()
        assert f"Dashboard: http://127.0.0.1:{port}/" in printed
        for email in ("manager.bordeaux@atlas.demo", "owner@atlas.demo", "admin@jarvis.demo"):
            assert email in printed
        assert "jarvis-cloud users mfa-code --email admin@jarvis.demo" in printed
        manager = WebClient(f"http://127.0.0.1:{port}")
        assert manager.sign_in("manager.bordeaux@atlas.demo", "jarvis-demo").status_code == 303
        assert "JARVIS Démo" in manager.get("/dashboard/sessions").text
        assert "tapis de course 3" in manager.get("/dashboard/alerts").text
        deadline = time.monotonic() + 240
        while "demande à parler à quelqu" not in manager.get("/dashboard/alerts").text:
            assert time.monotonic() < deadline, kiosk_log.read_text()[-3000:]
            time.sleep(1)
        manager.close()
        database.stop()  # let go first: the demo is the one to stop the server
        children = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(" ".join(child.cmdline()) for child in children)
        assert "simulator" in names
        assert "kiosk_agent.cli" in names
        assert "worker --name demo-worker" in names
    finally:
        # What systemd, Docker and `timeout` send: the demo stops everything it started.
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=90)
        database.stop()
    assert proc.returncode == 0, log.read_text()
    assert still_running(children) == []
    assert not postgres_running(home / "jarvis" / "postgres")
    shutil.rmtree(home, ignore_errors=True)
