"""Migrations: apply to a fresh database, are idempotent, and roll back whole on failure."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from cloud_api.db import migrate as migrations
from cloud_api.db.errors import MigrationFailed
from tests.conftest import PostgresServer

CATALOG_SNAPSHOT = """
select 'column', table_schema || '.' || table_name || '.' || column_name || ':' || data_type
from information_schema.columns where table_schema in ('public', 'auth', 'private')
union all
select 'policy', schemaname || '.' || tablename || '.' || policyname || ':' || cmd || ':'
       || coalesce(qual, '') || ':' || coalesce(with_check, '')
from pg_policies
union all
select 'function', n.nspname || '.' || p.proname || ':' || md5(p.prosrc)
from pg_proc p join pg_namespace n on n.oid = p.pronamespace
where n.nspname in ('auth', 'private', 'public')
union all
select 'index', schemaname || '.' || indexname || ':' || indexdef from pg_indexes
where schemaname in ('public', 'auth')
union all
select 'role', rolname || ':' || rolinherit || rolbypassrls || rolcanlogin from pg_roles
where rolname in ('anon', 'authenticated', 'service_role', 'jarvis_api')
union all
select 'grant', grantee || ':' || table_name || ':' || privilege_type
from information_schema.role_table_grants where table_schema = 'public'
union all
select 'migration', version from supabase_migrations.schema_migrations
order by 1, 2
"""


def snapshot(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return [(kind, item) for kind, item in conn.execute(CATALOG_SNAPSHOT).fetchall()]


def test_fresh_database_gets_every_migration(postgres: PostgresServer) -> None:
    url = postgres.create_database("fresh", migrated=False)
    report = migrations.migrate(url)
    assert [m.version for m in report.applied] == [m.version for m in migrations.discover()]
    assert report.already_applied == 0
    assert migrations.pending(url) == []
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select extversion from pg_extension where extname = 'vector'"
        ).fetchone()
    assert row is not None


def test_applying_twice_changes_nothing(postgres: PostgresServer) -> None:
    url = postgres.create_database("twice")
    before = snapshot(url)
    report = migrations.migrate(url)
    assert report.applied == []
    assert report.already_applied == len(migrations.discover())
    assert snapshot(url) == before


def test_auth_shim_changes_nothing_where_auth_exists(postgres: PostgresServer) -> None:
    """As on a real Supabase project: auth, roles and functions already exist."""
    url = postgres.create_database("shim")
    before = snapshot(url)
    shim = migrations.discover()[0]
    assert shim.name == "auth_shim"
    with psycopg.connect(url) as conn:
        conn.execute(shim.sql.encode())
    assert snapshot(url) == before


def test_failed_migration_rolls_back_the_whole_run(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    for path in migrations.MIGRATIONS_DIR.glob("*.sql"):
        shutil.copy(path, tmp_path)
    (tmp_path / "29990101000000_broken.sql").write_text(
        "create table public.will_vanish (id int);\nselect * from no_such_table;\n"
    )
    url = postgres.create_database("broken", migrated=False)
    with pytest.raises(
        MigrationFailed, match=r"29990101000000_broken\.sql failed: .*no_such_table"
    ):
        migrations.migrate(url, tmp_path)
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "select count(*) from pg_tables where schemaname in ('public', 'supabase_migrations')"
        ).fetchone()
    assert tables == (0,)  # not even the earlier, valid migrations of the run


def test_misnamed_migration_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "add_things.sql").write_text("select 1;")
    with pytest.raises(MigrationFailed, match="not named"):
        migrations.discover(tmp_path)


def test_edited_migration_is_reported(postgres: PostgresServer, tmp_path: Path) -> None:
    url = postgres.create_database("edited")
    for path in migrations.MIGRATIONS_DIR.glob("*.sql"):
        shutil.copy(path, tmp_path)
    last = sorted(tmp_path.glob("*.sql"))[-1]
    last.write_text(last.read_text() + "\n-- edited\n")
    report = migrations.migrate(url, tmp_path)
    assert report.applied == []
    assert report.edited_after_applying == [last.name[:14]]
