"""Shared fixtures: one real embedded Postgres (pgvector, RLS on) for the whole test session."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from cloud_api.db.embedded import API_ROLE, EmbeddedPostgres, with_params
from cloud_api.db.migrate import migrate
from cloud_api.supervisor import install_signal_handlers
from tests.cloud_server import CloudServer, add_standard_gyms

_names = itertools.count(1)


def pytest_configure(config: pytest.Config) -> None:
    # A run stopped with SIGTERM (`timeout`, CI) unwinds as for Ctrl-C: the session's
    # Postgres and every server a fixture started are stopped, not left behind.
    install_signal_handlers()


class PostgresServer:
    """The test session's server; hands out fresh, migrated databases."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url

    def url(self, dbname: str, *, user: str | None = None) -> str:
        if user:
            return with_params(self.admin_url, dbname=dbname, user=user, password="")
        return with_params(self.admin_url, dbname=dbname)

    def create_database(self, prefix: str = "t", *, migrated: bool = True) -> str:
        name = f"{prefix}_{next(_names)}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f"create database {name}")
        url = self.url(name)
        if migrated:
            migrate(url)
        return url

    def api_url(self, admin_db_url: str) -> str:
        dbname = str(conninfo_to_dict(admin_db_url)["dbname"])
        return self.url(dbname, user=API_ROLE)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    # Not under pytest's basetemp: pytest keeps that folder private (0700) and prunes old
    # runs, while the server runs as its own system user that must reach the data folder.
    data_dir = Path(tempfile.mkdtemp(prefix="jarvis-test-pg-"))
    data_dir.chmod(0o755)
    server = EmbeddedPostgres(data_dir)
    admin_url = server.start()
    try:
        yield PostgresServer(admin_url)
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def migrated_db(postgres: PostgresServer) -> str:
    """Admin URL of a migrated database shared by read-mostly tests."""
    return postgres.create_database("shared")


@pytest.fixture(scope="module")
def cloud(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CloudServer]:
    """A running cloud on 127.0.0.1 over its own database, with two gyms of one franchise
    (`gym-a`, `gym-b`) and an independent one (`gym-c`). Stop and start it to simulate an
    outage; see tests/cloud_server.py for the operator helpers."""
    admin = postgres.create_database("cloud")
    server = CloudServer(admin, postgres.api_url(admin), tmp_path_factory.mktemp("cloud"))
    add_standard_gyms(server)
    server.start()
    try:
        yield server
    finally:
        server.stop()
