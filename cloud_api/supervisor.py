"""One owner for everything a command starts: the embedded Postgres, helper processes (the
Realtime simulator, a kiosk, a worker...), short jobs. All of it stops together, newest first,
when the command ends: normally, on an error, on SIGINT (Ctrl-C) or on SIGTERM (what systemd,
Docker and `timeout` send).

SIGTERM's default action kills the process on the spot, skipping every `finally`: `install_
signal_handlers()` (called once by the CLI) turns it into `Terminated`, an exception like
Ctrl-C's KeyboardInterrupt, so cleanup runs. uvicorn handles both signals itself while it
serves (a graceful shutdown) and raises them again when it is done: they then reach us the
same way. While the supervisor stops things, further signals are ignored so that a second
Ctrl-C cannot leave half of them running.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from types import FrameType, TracebackType
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger("jarvis.cloud.supervisor")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: stop everything, as for Ctrl-C."""


class Stopping(RuntimeError):
    """The supervisor is stopping: nothing new may start."""


def _terminated(signum: int, _frame: FrameType | None) -> None:
    raise Terminated(f"signal {signum}")


def install_signal_handlers() -> None:
    """SIGTERM raises `Terminated` in the main thread (SIGINT already raises KeyboardInterrupt)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminated)


@contextlib.contextmanager
def signals_ignored() -> Iterator[None]:
    """Stop and interrupt signals are ignored for the block (cleanup must not be cut short)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Supervisor:
    """Starts processes and enters contexts for a command, and stops them all at its end.

    `with Supervisor(log_dir) as supervisor:` — anything `enter`ed or `start`ed inside is
    stopped in reverse order when the block ends, however it ends."""

    def __init__(self, log_dir: Path | None = None, *, grace_s: float = 20.0) -> None:
        self.log_dir = log_dir
        self.grace_s = grace_s
        self._stack = ExitStack()
        self._lock = threading.Lock()
        self._stopping = False

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def enter(self, context: AbstractContextManager[T]) -> T:
        """Enter `context` now; exit it when the supervisor stops (after what started later)."""
        with self._lock:
            if self._stopping:
                raise Stopping("stopping: not entering anything new")
            return self._stack.enter_context(context)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        """A long-running helper process, its output in `<log_dir>/<name>.log`."""
        with self._lock:
            if self._stopping:
                raise Stopping(f"stopping: not starting {name}")
            proc = self._spawn(name, argv, env)
            self._stack.callback(self._terminate, name, proc)
            return proc

    def run(
        self, name: str, argv: list[str], env: dict[str, str], timeout: float
    ) -> tuple[int, str]:
        """A short job to its end: (exit code, output). Stopped with the rest if the
        supervisor stops first."""
        with self._lock:
            if self._stopping:
                raise Stopping(f"stopping: not running {name}")
            proc = subprocess.Popen(
                argv,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self._stack.callback(self._terminate, name, proc)
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._terminate(name, proc)
            output, _ = proc.communicate()
        return proc.returncode, output.decode(errors="replace")

    def callback(self, action: Callable[[], object]) -> None:
        """Run `action` when the supervisor stops."""
        with self._lock:
            self._stack.callback(action)

    @property
    def stopping(self) -> bool:
        return self._stopping

    def stop(self) -> None:
        """Stop everything, newest first. Safe to call more than once."""
        with self._lock:
            self._stopping = True
        with signals_ignored():
            self._stack.close()

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        # A session of its own: a terminal's Ctrl-C reaches the supervisor only, which stops
        # its helpers in order instead of all of them at once.
        if self.log_dir is None:
            return subprocess.Popen(argv, env=env, start_new_session=True)
        with (self.log_dir / f"{name}.log").open("ab") as out:
            return subprocess.Popen(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def _terminate(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=self.grace_s)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0f s: killing it", name, self.grace_s)
            proc.kill()
            proc.wait()
