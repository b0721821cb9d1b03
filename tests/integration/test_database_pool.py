"""The data layer: one transaction per unit of work, under the caller's claims, nothing leaks."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest

from cloud_api.db.database import Database
from tests.conftest import PostgresServer

PROBE = (
    "select current_user as role, current_setting('request.jwt.claims', true) as claims, "
    "auth.uid() as uid"
)


@pytest.fixture
async def single_connection_db(postgres: PostgresServer, migrated_db: str) -> Database:
    # One connection: every unit of work reuses the very same server session.
    db = Database(postgres.api_url(migrated_db), min_size=1, max_size=1)
    await db.open()
    yield db  # type: ignore[misc]
    await db.close()


async def test_claims_do_not_leak_into_the_next_transaction(single_connection_db: Database) -> None:
    db = single_connection_db
    user = str(uuid.uuid4())
    async with db.transaction({"sub": user, "role": "authenticated"}) as conn:
        row = await (await conn.execute(PROBE)).fetchone()
        backend = await (await conn.execute("select pg_backend_pid() as pid")).fetchone()
    assert row is not None
    assert backend is not None
    assert row["role"] == "authenticated"
    assert str(row["uid"]) == user

    async with db.transaction(None) as conn:
        row = await (await conn.execute(PROBE)).fetchone()
        same = await (await conn.execute("select pg_backend_pid() as pid")).fetchone()
    assert row is not None
    assert same is not None
    assert same["pid"] == backend["pid"]  # really the same pooled connection
    assert row["role"] == "anon"
    assert json.loads(row["claims"]) == {"role": "anon"}
    assert row["uid"] is None


async def test_a_failed_transaction_leaves_nothing_behind(single_connection_db: Database) -> None:
    db = single_connection_db
    with pytest.raises(psycopg.errors.UndefinedTable):
        async with db.transaction({"sub": str(uuid.uuid4()), "role": "authenticated"}) as conn:
            await conn.execute("select * from no_such_table")
    async with db.transaction(None) as conn:
        row = await (await conn.execute(PROBE)).fetchone()
    assert row is not None
    assert (row["role"], row["uid"]) == ("anon", None)


async def test_between_transactions_the_session_is_bare_jarvis_api(
    postgres: PostgresServer, migrated_db: str
) -> None:
    async with await psycopg.AsyncConnection.connect(postgres.api_url(migrated_db)) as conn:
        async with conn.transaction():
            await conn.execute(
                "select set_config('role', 'authenticated', true), "
                "set_config('request.jwt.claims', '{\"sub\": \"x\"}', true)"
            )
        cur = await conn.execute("select current_user, current_setting('request.jwt.claims', true)")
        assert await cur.fetchone() == ("jarvis_api", "")


async def test_the_api_role_cannot_become_service_role(
    postgres: PostgresServer, migrated_db: str
) -> None:
    async with await psycopg.AsyncConnection.connect(postgres.api_url(migrated_db)) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            await conn.execute("set role service_role")


async def test_the_api_role_alone_reads_nothing(postgres: PostgresServer, migrated_db: str) -> None:
    async with await psycopg.AsyncConnection.connect(postgres.api_url(migrated_db)) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            await conn.execute("select count(*) from public.gym_members")


async def test_claims_cannot_ask_for_a_privileged_role(single_connection_db: Database) -> None:
    with pytest.raises(ValueError, match="service_role"):
        async with single_connection_db.transaction({"role": "service_role"}):
            pass


async def test_not_durable_work_does_not_leak_its_setting(single_connection_db: Database) -> None:
    db = single_connection_db
    async with db.transaction(None, durable=False) as conn:
        row = await (
            await conn.execute("select current_setting('synchronous_commit') as s")
        ).fetchone()
    assert row == {"s": "off"}
    async with db.transaction(None) as conn:
        row = await (
            await conn.execute("select current_setting('synchronous_commit') as s")
        ).fetchone()
    assert row == {"s": "on"}


async def test_claims_are_quoted_not_interpreted(single_connection_db: Database) -> None:
    """The opening message inlines the claims (one round trip): quotes, backslashes and
    semicolons in them stay data."""
    hostile = {
        "sub": str(uuid.uuid4()),
        "role": "authenticated",
        "email": "o'brien\\'; set role service_role; --@example.com",
    }
    async with single_connection_db.transaction(hostile) as conn:
        row = await (await conn.execute(PROBE)).fetchone()
    assert row is not None
    assert row["role"] == "authenticated"
    assert json.loads(row["claims"]) == hostile


async def test_a_staged_prelude_runs_once_in_its_own_transaction(
    single_connection_db: Database,
) -> None:
    """A request's prelude (its rate-limit charge) commits even when the request's own
    transaction fails, and runs with the request's first transaction only."""
    from psycopg import sql

    from cloud_api.db.database import stage_prelude

    class Marker:
        def __init__(self) -> None:
            self.taken = 0
            self.rows: list[Any] = []

        def take(self) -> bool:
            self.taken += 1
            return self.taken == 1

        def statement(self) -> sql.Composed:
            return sql.SQL("select {} as mark, current_user as who").format(sql.Literal("m"))

        def settle(self, row: dict[str, Any] | None) -> None:
            self.rows.append(row)

    marker = Marker()
    stage_prelude(marker)
    with pytest.raises(psycopg.errors.DivisionByZero):
        async with single_connection_db.transaction(None) as conn:
            await conn.execute("select 1 / 0")
    async with single_connection_db.transaction(None) as conn:
        row = await (await conn.execute(PROBE)).fetchone()
    assert marker.rows == [{"mark": "m", "who": "jarvis_api"}]  # before the caller's role
    assert row is not None
    assert row["role"] == "anon"
