"""A kiosk's home for integration tests: its state folder, its environment, its commands.

`jarvis-kiosk` runs as a real subprocess with a clean JARVIS_KIOSK_* environment (an empty
config file, so the host's /etc/jarvis-kiosk/kiosk.env never leaks in).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from kiosk_agent.adapters.identity import KioskIdentity, load_identity
from tests.cloud_server import CloudServer
from tests.conftest import PostgresServer

JARVIS_KIOSK = str(Path(sys.executable).with_name("jarvis-kiosk"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "it") -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


@dataclass
class KioskHome:
    root: Path
    badge_port: int = field(default_factory=free_port)
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JARVIS_KIOSK_")}
        for key in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"):
            env.pop(key, None)
        config = self.root / "kiosk.env"
        if not config.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            config.write_text("# empty: every setting comes from the test's environment\n")
        env.update(
            {
                "JARVIS_KIOSK_CONFIG": str(config),
                "JARVIS_KIOSK_STATE_DIR": str(self.state_dir),
                "JARVIS_KIOSK_BADGE__KIND": "simulated",
                "JARVIS_KIOSK_BADGE__SIMULATED__STDIN": "false",
                "JARVIS_KIOSK_BADGE__SIMULATED__HTTP_PORT": str(self.badge_port),
                "JARVIS_KIOSK_ANNOUNCE__SPEAK": "false",
                "JARVIS_KIOSK_SCREEN__PORT": "0",  # any free port: several agents run at once
                "JARVIS_KIOSK_HEARTBEAT__INTERVAL_S": "1",
                "JARVIS_KIOSK_CLOUD__MEMBER_LOOKUP_TIMEOUT_S": "2",
                "JARVIS_KIOSK_OUTBOX__BACKOFF_INITIAL_S": "0.2",
                "JARVIS_KIOSK_OUTBOX__BACKOFF_MAX_S": "1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra)
        return env

    def cli(
        self, *args: str, input: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [JARVIS_KIOSK, *args],
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def identity(self) -> KioskIdentity | None:
        return load_identity(self.state_dir / "credential.json")

    def provision(self, cloud_url: str, code: str) -> KioskIdentity:
        result = self.cli("provision", "--cloud-url", cloud_url, "--code", code)
        assert result.returncode == 0, result.stderr
        identity = self.identity()
        assert identity is not None
        return identity

    def start(self, *args: str, env: dict[str, str] | None = None) -> AgentProcess:
        process = subprocess.Popen(
            [JARVIS_KIOSK, "run", *args],
            env={**self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        return AgentProcess(process)

    def tap(self, badge: str) -> dict[str, Any]:
        def post() -> httpx.Response | None:
            try:
                return httpx.post(f"http://127.0.0.1:{self.badge_port}/badge", content=badge)
            except httpx.TransportError:
                return None

        response = wait_for(post, what="the simulated badge reader")
        answer: dict[str, Any] = response.json()
        return answer


class AgentProcess:
    """A running `jarvis-kiosk run`, its output collected in the background."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._collect, daemon=True)
        self._reader.start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, text: str, timeout: float = 30.0) -> str:
        line: str = wait_for(
            lambda: next((line for line in self.lines if text in line), None),
            timeout,
            f"a log line with {text!r}; output so far:\n{self.output}",
        )
        return line

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 30.0) -> int:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self._finish()
        return code

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait(30)
        self._finish()

    def _finish(self) -> None:
        self._reader.join(5)
        if self.process.stdout is not None:
            self.process.stdout.close()


class NotifyListener:
    """A NOTIFY_SOCKET as systemd provides it; collects what the agent sends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(str(path))
        self.socket.settimeout(0.2)
        self.messages: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        while not self._stop.is_set():
            try:
                self.messages.append(self.socket.recv(4096).decode())
            except TimeoutError:
                continue
            except OSError:
                return

    def env(self, watchdog_s: float) -> dict[str, str]:
        return {"NOTIFY_SOCKET": str(self.path), "WATCHDOG_USEC": str(int(watchdog_s * 1e6))}

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.socket.close()


@contextlib.contextmanager
def cloud_with(
    postgres: PostgresServer, folder: Path, gym: str, **settings: Any
) -> Iterator[CloudServer]:
    """A cloud (the lead's CloudServer helper) on its own database with other settings than
    the shared `cloud` fixture's, and one gym."""
    admin = postgres.create_database(f"kiosk_{gym.replace('-', '_')}")
    server = CloudServer(admin, postgres.api_url(admin), folder, **settings)
    server.add_gym(gym)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def status_json(home: KioskHome) -> dict[str, Any]:
    result = home.cli("status", "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@contextlib.contextmanager
def simulator_process(key: str, *args: str) -> Iterator[str]:
    """`python -m simulator` (a tone voice, ``args`` added) accepting ``key``, for the block;
    its OpenAI base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", str(port), "--voice", "tone", *args],
        env={**os.environ, "OPENAI_API_KEY": key},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def listening() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_for(listening, what="the Realtime simulator")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        process.wait(30)
