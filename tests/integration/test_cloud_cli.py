"""`jarvis-cloud` as a person runs it: real processes, real Postgres, real HTTP."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cloud_api.db.migrate import discover
from tests.cli_process import CloudProcess, postgres_running, still_running
from tests.conftest import PostgresServer

CLI = [sys.executable, "-c", "from cloud_api.cli import main; main()"]


def run(
    args: list[str], env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture
def env() -> Iterator[dict[str, str]]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("JARVIS_", "DATABASE_URL"))}
    # Outside pytest's private basetemp: the embedded server's own user must reach it.
    home = Path(tempfile.mkdtemp(prefix="jarvis-cli-test-"))
    home.chmod(0o755)
    clean.update({"JARVIS_DATA_DIR": str(home / "jarvis")})
    yield clean
    shutil.rmtree(home, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_every_command_has_help(env: dict[str, str]) -> None:
    for args in (
        ["--help"],
        ["serve", "--help"],
        ["db", "--help"],
        ["db", "seed", "--help"],
        ["gyms", "list", "--help"],
        ["demo", "--help"],
    ):
        result = run(args, env)
        assert result.returncode == 0, result.stderr
        assert "Usage" in result.stdout


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("this is not a url", "DATABASE_URL is not a valid Postgres connection string"),
        ("postgresql://nobody@127.0.0.1:1/jarvis", "Cannot connect to the database at 127.0.0.1"),
    ],
)
def test_broken_database_url_is_one_clear_sentence(
    env: dict[str, str], url: str, message: str
) -> None:
    env["DATABASE_URL"] = url
    result = run(["db", "migrate"], env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert message in lines[0]


def test_stale_data_folder_is_explained(env: dict[str, str]) -> None:
    pgdata = Path(env["JARVIS_DATA_DIR"]) / "postgres"
    pgdata.mkdir(parents=True)
    (pgdata / "leftover.txt").write_text("not a database")
    result = run(["db", "migrate"], env)
    assert result.returncode == 1
    assert "is not a Postgres data folder" in result.stderr
    assert (pgdata / "leftover.txt").exists()  # nothing of the person's was deleted


def test_seed_needs_exactly_one_kind(env: dict[str, str]) -> None:
    result = run(["db", "seed"], env)
    assert result.returncode == 1
    assert "choose exactly one of --demo or --scale N" in result.stderr


def test_migrate_external_database_then_again(
    env: dict[str, str], postgres: PostgresServer
) -> None:
    env["DATABASE_URL"] = postgres.create_database("cli", migrated=False)
    first = run(["db", "migrate"], env)
    assert first.returncode == 0, first.stderr
    assert f"{len(discover())} applied, 0 already applied" in first.stdout
    second = run(["db", "migrate"], env)
    assert second.returncode == 0
    assert "0 applied" in second.stdout


def test_serve_refuses_an_external_database_with_pending_migrations(
    env: dict[str, str], postgres: PostgresServer
) -> None:
    env["DATABASE_URL"] = postgres.create_database("behind", migrated=False)
    result = run(["serve", "--port", str(free_port())], env)
    assert result.returncode == 1
    assert "pending" in result.stderr
    assert "jarvis-cloud db migrate" in result.stderr


def test_port_in_use(env: dict[str, str], migrated_db: str) -> None:
    env["DATABASE_URL"] = migrated_db
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(["serve", "--port", str(port)], env)
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr


def test_serve_on_the_embedded_default_and_stop_cleanly(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Stopped by Ctrl-C, then (the same folder, served again) by SIGTERM as systemd, Docker
    and `timeout` stop it: each time the embedded Postgres and every child stop too."""
    pgdata = Path(env["JARVIS_DATA_DIR"]) / "postgres"
    for sig in (signal.SIGINT, signal.SIGTERM):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = CloudProcess(["serve", "--port", str(port)], env, tmp_path / f"{sig.name}.log")
        try:
            server.wait_for_health(base, timeout=90)
            assert httpx.get(f"{base}/health", timeout=2).json()["database"] == "ok"
            if sig is signal.SIGINT:
                assert httpx.get(f"{base}/docs").status_code == 200
                assert "/health" in httpx.get(f"{base}/openapi.json").json()["paths"]
                missing = httpx.get(f"{base}/no-such-page")
                assert missing.status_code == 404
                assert missing.json()["error"]["code"] == "not_found"
                assert f"applied {len(discover())} migration(s)" in server.output()
            children = server.descendants()
        finally:
            returncode = server.stop(sig, timeout=60)
        assert returncode == 0, server.output()
        assert still_running(children) == []
        assert (pgdata / "PG_VERSION").exists()
        assert not postgres_running(pgdata), f"embedded Postgres left running after {sig.name}"
        assert not (pgdata / "postmaster.pid").exists()


def test_demo_with_a_port_in_use_starts_nothing(env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        result = run(
            ["demo", "--port", str(free_port()), "--simulator-port", str(busy)], env, timeout=60
        )
    assert result.returncode == 1
    assert f"port {busy} on 127.0.0.1 is already in use" in result.stderr
    assert not postgres_running(Path(env["JARVIS_DATA_DIR"]) / "postgres", timeout=0)


def test_simulator_needs_the_organisation_key(env: dict[str, str]) -> None:
    env.pop("OPENAI_API_KEY", None)
    result = run(["simulator", "--port", str(free_port())], env)
    assert result.returncode == 1
    assert "set OPENAI_API_KEY" in result.stderr


def test_operator_creates_accounts_and_kiosks(env: dict[str, str], migrated_db: str) -> None:
    env["DATABASE_URL"] = migrated_db
    slug = f"cli-gym-{os.getpid()}"
    import psycopg

    with psycopg.connect(migrated_db) as conn:
        conn.execute("insert into gyms (slug, name) values (%s, 'CLI Gym')", (slug,))
    created = run(["kiosks", "create", "--gym", slug, "--name", "Entrée"], env)
    assert created.returncode == 0, created.stderr
    code_line = next(line for line in created.stdout.splitlines() if "provisioning code" in line)
    assert len(code_line.split(": ")[1].replace("-", "")) == 6
    unknown = run(["kiosks", "create", "--gym", "no-such-gym", "--name", "x"], env)
    assert unknown.returncode == 1
    assert "no gym with slug 'no-such-gym'" in unknown.stderr
    user = run(
        [
            "users",
            "create",
            "--email",
            f"staff.{slug}@example.com",
            "--role",
            "gym_staff",
            "--gym",
            slug,
        ],
        env,
    )
    assert user.returncode == 0, user.stderr
    assert "password (shown once)" in user.stdout
    again = run(
        [
            "users",
            "create",
            "--email",
            f"staff.{slug}@example.com",
            "--role",
            "gym_staff",
            "--gym",
            slug,
        ],
        env,
    )
    assert again.returncode == 1
    assert "already exists" in again.stderr
    wrong = run(["users", "create", "--email", "x@example.com", "--role", "gym_manager"], env)
    assert wrong.returncode == 1
    assert "needs --gym" in wrong.stderr
