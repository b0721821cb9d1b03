"""Everything a command starts stops with it: on SIGTERM, SIGINT and errors, children included;
and a Postgres an earlier run left behind is never joined silently."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from cloud_api.db.embedded import EmbeddedPostgres
from tests.cli_process import postgres_running, still_running

SUPERVISED = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from cloud_api.supervisor import Supervisor, install_signal_handlers

    install_signal_handlers()
    sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
    with Supervisor(Path(sys.argv[1])) as supervisor:
        one = supervisor.start("one", sleeper, {})
        two = supervisor.start("two", sleeper, {})
        print(one.pid, two.pid, flush=True)
        if sys.argv[2] == "fail":
            raise RuntimeError("something went wrong")
        time.sleep(600)
    """
)


def supervised(tmp_path: Path, mode: str) -> tuple[subprocess.Popen[str], list[psutil.Process]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SUPERVISED, str(tmp_path), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    pids = [int(pid) for pid in proc.stdout.readline().split()]
    assert len(pids) == 2
    children = []
    for pid in pids:
        try:
            children.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue  # already stopped (the error case stops them at once)
    return proc, children


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_every_child(tmp_path: Path, sig: signal.Signals) -> None:
    proc, children = supervised(tmp_path, "wait")
    proc.send_signal(sig)
    proc.communicate(timeout=30)
    assert still_running(children) == []


def test_an_error_stops_every_child(tmp_path: Path) -> None:
    proc, children = supervised(tmp_path, "fail")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "something went wrong" in err
    assert still_running(children) == []


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Outside pytest's private basetemp: the server's own user must reach it.
    home = Path(tempfile.mkdtemp(prefix="jarvis-orphan-test-"))
    home.chmod(0o755)
    yield home / "jarvis"
    subprocess.run(["rm", "-rf", str(home)], check=False)


def test_an_orphaned_postgres_is_stopped_and_started_afresh(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A run that dies without letting go (SIGKILL): its Postgres is left running.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from cloud_api.db.embedded import EmbeddedPostgres\n"
            "EmbeddedPostgres(Path(sys.argv[1])).start()\n"
            "print('up', flush=True)\n"
            "time.sleep(600)\n",
            str(data_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "up"
    orphan = int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
    holder.kill()
    holder.communicate()
    assert psutil.pid_exists(orphan)

    server = EmbeddedPostgres(data_dir)
    server.start()
    try:
        restarted = int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
        assert restarted != orphan
        assert not psutil.pid_exists(orphan)
        assert "left running" in caplog.text
        assert str(orphan) in caplog.text
    finally:
        server.stop()
    assert not postgres_running(data_dir / "postgres")
