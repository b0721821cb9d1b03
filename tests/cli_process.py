"""`jarvis-cloud` as a real process for tests: start it, wait for its API, stop it with a signal,
and check that nothing it started is left running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

CLI = [sys.executable, "-c", "from cloud_api.cli import main; main()"]


def clean_env(data_dir: Path) -> dict[str, str]:
    """The environment without any of this machine's JARVIS/OpenAI settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JARVIS_", "DATABASE_URL", "OPENAI_"))
    }
    env["JARVIS_DATA_DIR"] = str(data_dir)
    return env


class CloudProcess:
    """One `jarvis-cloud` command running in the background, its output in a log file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("w") as out:
            self.proc = subprocess.Popen(
                [*CLI, *args], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        self.ps = psutil.Process(self.proc.pid)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_health(self, base_url: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None, self.output()
            assert time.monotonic() < deadline, f"no answer on {base_url}:\n{self.output()}"
            time.sleep(0.2)

    def descendants(self) -> list[psutil.Process]:
        try:
            return list(self.ps.children(recursive=True))
        except psutil.NoSuchProcess:
            return []

    def stop(self, sig: signal.Signals, timeout: float = 90) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def peak_rss_mb(self) -> float:
        """The process's peak resident memory so far (VmHWM), in MiB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmHWM in /proc status")


def still_running(processes: list[psutil.Process]) -> list[str]:
    """What of `processes` is still alive (zombies count as gone)."""
    alive = []
    for proc in processes:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{proc.pid} {' '.join(proc.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            continue
    return alive


def postgres_running(pgdata: Path, timeout: float = 20) -> bool:
    """Whether a server still runs on this data folder, after giving it `timeout` to stop."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _postgres_on(pgdata):
            return False
        time.sleep(0.2)
    return _postgres_on(pgdata)


def _postgres_on(pgdata: Path) -> bool:
    target = str(pgdata.resolve())
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and target in cmdline:
            return True
    return False
