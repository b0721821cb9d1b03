"""Apply `supabase/migrations/*.sql` in order, record what ran, and be safe to run again.

Runs are recorded in `supabase_migrations.schema_migrations`, the table the Supabase CLI
uses, so `supabase db push` and `jarvis-cloud db migrate` agree on what has been applied.
All pending migrations run in ONE transaction under an advisory lock: a failure rolls the
whole run back and leaves the database exactly as it was.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from cloud_api.db.errors import DatabaseUnavailable, MigrationFailed, one_line

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "supabase" / "migrations"
_NAME = re.compile(r"^(?P<version>\d{14})_(?P<name>[a-z0-9_]+)\.sql$")
_LOCK_KEY = 7_462_001  # arbitrary, constant: serialises concurrent migrators

_BOOKKEEPING = """
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
    version text primary key,
    statements text[],
    name text
);
"""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass
class MigrationReport:
    applied: list[Migration] = field(default_factory=list)
    already_applied: int = 0
    edited_after_applying: list[str] = field(default_factory=list)


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations in `directory`, ordered by version; a misnamed file is an error."""
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationFailed(
                f"{path.name} is not named <14-digit version>_<snake_case_name>.sql; "
                "rename it so its order is explicit."
            )
        migrations.append(Migration(match["version"], match["name"], path.read_text()))
    return migrations


def pending(conninfo: str, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Migrations not yet recorded in the database."""
    with _connect(conninfo) as conn:
        applied = _applied(conn)
    return [m for m in discover(directory) if m.version not in applied]


def migrate(
    conninfo: str,
    directory: Path = MIGRATIONS_DIR,
    migrations: Sequence[Migration] | None = None,
) -> MigrationReport:
    """Apply every pending migration in one transaction; return what happened."""
    todo = list(migrations) if migrations is not None else discover(directory)
    report = MigrationReport()
    with _connect(conninfo) as conn:
        current: Migration | None = None
        try:
            with conn.transaction():
                conn.execute("select pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                conn.execute(_BOOKKEEPING)
                applied = _applied(conn)
                for migration in todo:
                    if migration.version in applied:
                        report.already_applied += 1
                        recorded = applied[migration.version]
                        if recorded is not None and recorded != migration.checksum:
                            report.edited_after_applying.append(migration.version)
                        continue
                    current = migration
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "insert into supabase_migrations.schema_migrations "
                        "(version, name, statements) values (%s, %s, array[%s])",
                        (migration.version, migration.name, migration.sql),
                    )
                    report.applied.append(migration)
        except psycopg.Error as exc:
            where = f"{current.version}_{current.name}.sql" if current else "migration bookkeeping"
            detail = exc.diag.message_primary or one_line(exc)
            raise MigrationFailed(
                f"{where} failed: {detail}. Nothing was applied; the database is as it was."
            ) from exc
    return report


def _applied(conn: psycopg.Connection) -> dict[str, str | None]:
    exists = conn.execute(
        "select to_regclass('supabase_migrations.schema_migrations') is not null"
    ).fetchone()
    if not exists or not exists[0]:
        return {}
    rows = conn.execute(
        "select version, statements from supabase_migrations.schema_migrations"
    ).fetchall()
    result: dict[str, str | None] = {}
    for version, statements in rows:
        # Files applied by this tool are stored whole; the Supabase CLI splits statements.
        whole = statements[0] if statements and len(statements) == 1 else None
        result[version] = hashlib.sha256(whole.encode()).hexdigest() if whole else None
    return result


def _connect(conninfo: str) -> psycopg.Connection:
    try:
        return psycopg.connect(conninfo, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(
            f"Cannot connect to the database ({one_line(exc)}): check DATABASE_URL."
        ) from exc
