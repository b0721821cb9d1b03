"""Is a configured database reachable? One clear sentence when it is not."""

from __future__ import annotations

import psycopg
from psycopg.conninfo import conninfo_to_dict

from cloud_api.db.errors import DatabaseUnavailable, one_line


def parse_conninfo(url: str) -> dict[str, str]:
    try:
        return {k: str(v) for k, v in conninfo_to_dict(url).items() if v is not None}
    except psycopg.ProgrammingError as exc:
        raise DatabaseUnavailable(
            f"DATABASE_URL is not a valid Postgres connection string ({one_line(exc)}): expected "
            "postgresql://user:password@host:5432/dbname"
        ) from exc


def check_reachable(url: str) -> None:
    """Fail with one clear sentence when the database cannot be reached."""
    parse_conninfo(url)
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("select 1")
    except psycopg.Error as exc:
        reason = one_line(exc)
        host = parse_conninfo(url).get("host", "localhost")
        raise DatabaseUnavailable(
            f"Cannot connect to the database at {host} ({reason}): check DATABASE_URL."
        ) from exc
