"""The role matrix: every role × every table × select / insert / update / delete, exact counts.

Each attempt runs in its own rolled-back transaction on a connection logged in as the API's
role (`jarvis_api`), after the same `set_config` calls the API makes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from cloud_api.db.database import SET_REQUEST_CONTEXT, request_context
from tests.conftest import PostgresServer
from tests.integration import rls_world
from tests.integration.rls_world import FRANCHISE_OF, GYMS, PER_GYM, ROLES, World, uid

TABLES = (
    "franchises",
    "gyms",
    "users",
    "kiosks",
    "kiosk_heartbeats",
    "gym_members",
    "member_fitness_profile",
    "member_preferences",
    "realtime_sessions",
    "conversation_turns",
    "conversation_summaries",
    "member_analytics",
    "manager_alerts",
    "insights_reports",
    "audit_log",
    "member_import_mappings",
    "member_imports",
    "notification_recipients",
    "notification_deliveries",
    "cost_daily",
)
# Written only by the worker's definer functions: the API's roles may read them, no more.
READ_ONLY = {"notification_deliveries", "cost_daily"}
# Managers' business (who is notified, what it costs): read by managers and owners, not staff.
MANAGERS_ONLY = {"notification_recipients", "notification_deliveries", "cost_daily"}
NOOP_UPDATE = {
    "franchises": "name = name",
    "gyms": "name = name",
    "users": "full_name = full_name",
    "kiosks": "notes = notes",
    "kiosk_heartbeats": "last_error = last_error",
    "gym_members": "first_name = first_name",
    "member_fitness_profile": "injuries = injuries",
    "member_preferences": "voice_preference = voice_preference",
    "realtime_sessions": "voice = voice",
    "conversation_turns": "content = content",
    "conversation_summaries": "error = error",
    "member_analytics": "updated_at = updated_at",
    "manager_alerts": "description = description",
    "insights_reports": "summary = summary",
    "audit_log": "details = details",
    "member_import_mappings": "delimiter = delimiter",
    "member_imports": "finished_at = finished_at",
    "notification_recipients": "language = language",
    "notification_deliveries": "last_error = last_error",
    "cost_daily": "sessions = sessions",
}
# Role → gyms it belongs to (dashboard scope) and the franchise it owns.
SCOPE: dict[str, tuple[str, ...]] = {
    "super_admin": GYMS,
    "owner_A": ("A1", "A2"),
    "owner_B": ("B1",),
    "manager_A1": ("A1",),
    "staff_A1": ("A1",),
    "kiosk_A1": (),
    "anon": (),
}
MANAGED: dict[str, tuple[str, ...]] = {
    "super_admin": GYMS,
    "owner_A": ("A1", "A2"),
    "owner_B": ("B1",),
    "manager_A1": ("A1",),
    "staff_A1": (),
    "kiosk_A1": (),
    "anon": (),
}
KIOSK_READS = {
    "kiosks",
    "kiosk_heartbeats",
    "gym_members",
    "member_fitness_profile",
    "member_preferences",
    "realtime_sessions",
    "conversation_turns",
}


@pytest.fixture(scope="module")
def world(postgres: PostgresServer) -> World:
    admin = postgres.create_database("rls")
    return rls_world.build(admin, postgres.api_url(admin))


@pytest.fixture(scope="module")
def api_conn(world: World) -> Iterator[psycopg.Connection]:
    with psycopg.connect(world.api_url) as conn:
        yield conn


def attempt(
    conn: psycopg.Connection, world: World, role: str, sql: str, params: tuple[Any, ...] = ()
) -> int | str:
    """Row count, or how the database refused: denied (no privilege), refused (RLS), fk."""
    try:
        with conn.transaction(force_rollback=True):
            world.connect_as(conn, role)
            cur = conn.execute(sql.encode(), params)
            return cur.rowcount
    except psycopg.errors.InsufficientPrivilege as exc:
        return "refused" if "row-level security" in str(exc) else "denied"
    except (psycopg.errors.ForeignKeyViolation, psycopg.errors.RestrictViolation):
        return "fk"


def count(conn: psycopg.Connection, world: World, role: str, table: str) -> int | str:
    try:
        with conn.transaction(force_rollback=True):
            world.connect_as(conn, role)
            row = conn.execute(f"select count(*) from public.{table}").fetchone()
            assert row is not None
            return int(row[0])
    except psycopg.errors.InsufficientPrivilege:
        return "denied"


# -- expectations ---------------------------------------------------------------------------


def expected_select(role: str, table: str) -> int | str:
    if role == "anon":
        return "denied"
    special: dict[str, dict[str, int]] = {
        "franchises": {
            "super_admin": 2,
            "owner_A": 1,
            "owner_B": 1,
            "manager_A1": 1,
            "staff_A1": 1,
            "kiosk_A1": 0,
        },
        "gyms": {
            "super_admin": 3,
            "owner_A": 2,
            "owner_B": 1,
            "manager_A1": 1,
            "staff_A1": 1,
            "kiosk_A1": 1,
        },
        "users": {
            "super_admin": 6,
            "owner_A": 3,
            "owner_B": 2,
            "manager_A1": 2,
            "staff_A1": 2,
            "kiosk_A1": 0,
        },
        "insights_reports": {
            "super_admin": 5,
            "owner_A": 3,
            "owner_B": 2,
            "manager_A1": 1,
            "staff_A1": 1,
            "kiosk_A1": 0,
        },
    }
    if table in special:
        return special[table][role]
    if role == "kiosk_A1":
        gyms: tuple[str, ...] = ("A1",) if table in KIOSK_READS else ()
    elif table == "audit_log" or table in MANAGERS_ONLY:
        gyms = MANAGED[role]
    else:
        gyms = SCOPE[role]
    return PER_GYM[table] * len(gyms)


def expected_update(role: str, table: str) -> int | str:
    if role == "anon" or table == "audit_log" or table in READ_ONLY:
        return "denied"
    special: dict[str, dict[str, int]] = {
        "franchises": {"super_admin": 2, "owner_A": 1, "owner_B": 1},
        "gyms": {"super_admin": 3, "owner_A": 2, "owner_B": 1, "manager_A1": 1},
        "users": {"super_admin": 6, "owner_A": 2, "owner_B": 1, "manager_A1": 1},
        "insights_reports": {"super_admin": 5},
    }
    if table in special:
        return special[table].get(role, 0)
    if table in ("kiosk_heartbeats", "conversation_turns"):
        return 0  # history is not edited
    if table == "realtime_sessions":
        gyms = GYMS if role == "super_admin" else ("A1",) if role == "kiosk_A1" else ()
    elif table in ("kiosks", "notification_recipients"):
        gyms = MANAGED[role]
    elif table in ("conversation_summaries", "member_analytics"):
        gyms = GYMS if role == "super_admin" else ()
    else:  # members, profiles, preferences, alerts: the whole gym team
        gyms = SCOPE[role]
    return PER_GYM[table] * len(gyms)


def delete_statement(table: str) -> tuple[str, tuple[Any, ...]]:
    """Delete gym A1's rows of `table` (franchise A, gym A1, staff of A1 for the top tables)."""
    if table == "franchises":
        return "delete from franchises where id = %s", (uid("franchise", "A"),)
    if table == "gyms":
        return "delete from gyms where id = %s", (uid("gym", "A1"),)
    if table == "users":
        return "delete from users where id = %s", (uid("user", "staff_A1"),)
    if table == "insights_reports":
        return "delete from insights_reports where gym_id = %s", (uid("gym", "A1"),)
    return f"delete from {table} where gym_id = %s", (uid("gym", "A1"),)


def expected_delete(role: str, table: str) -> int | str:
    if role == "anon" or table == "audit_log" or table in READ_ONLY:
        return "denied"
    if table in ("franchises", "gyms"):
        return "fk" if role == "super_admin" else 0  # gyms and users still point at them
    if table == "users":
        return 1 if role in ("super_admin", "owner_A", "manager_A1") else 0
    if table == "insights_reports":
        return 1 if role == "super_admin" else 0
    a1 = PER_GYM[table]
    allowed = {
        "kiosks": ("super_admin", "owner_A", "manager_A1"),
        "notification_recipients": ("super_admin", "owner_A", "manager_A1"),
        "manager_alerts": ("super_admin", "owner_A", "manager_A1"),
        "gym_members": ("super_admin", "owner_A", "manager_A1", "staff_A1"),
        "member_fitness_profile": ("super_admin", "owner_A", "manager_A1", "staff_A1"),
        "member_preferences": ("super_admin", "owner_A", "manager_A1", "staff_A1"),
        "member_import_mappings": ("super_admin", "owner_A", "manager_A1"),
    }.get(table, ("super_admin",))
    return a1 if role in allowed else 0


def may_insert(role: str, table: str, gym: str) -> bool:
    if role == "anon":
        return False
    franchise = FRANCHISE_OF[gym]
    is_super = role == "super_admin"
    owner = role == f"owner_{franchise}"
    manager = role == f"manager_{gym}"
    team = manager or role == f"staff_{gym}"
    kiosk = role == f"kiosk_{gym}"
    rules = {
        "franchises": is_super,
        "gyms": is_super or owner,
        "users": is_super or owner or manager,
        "kiosks": is_super or owner or manager,
        "kiosk_heartbeats": kiosk,
        "gym_members": is_super or owner or team,
        "member_fitness_profile": is_super or owner or team,
        "member_preferences": is_super or owner or team,
        "realtime_sessions": kiosk,
        "conversation_turns": kiosk,
        "conversation_summaries": is_super,
        "member_analytics": is_super,
        "manager_alerts": is_super or owner or team,
        "insights_reports": is_super,
        "audit_log": is_super or owner or team or kiosk,
        "member_import_mappings": is_super or owner or team,
        "member_imports": is_super or owner or team,
        "notification_recipients": is_super or owner or manager,
        "notification_deliveries": False,
        "cost_daily": False,
    }
    return rules[table]


# -- the matrix -------------------------------------------------------------------------------


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("role", ROLES)
def test_select(api_conn: psycopg.Connection, world: World, role: str, table: str) -> None:
    assert count(api_conn, world, role, table) == expected_select(role, table)


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("role", ROLES)
def test_update(api_conn: psycopg.Connection, world: World, role: str, table: str) -> None:
    got = attempt(api_conn, world, role, f"update public.{table} set {NOOP_UPDATE[table]}")
    assert got == expected_update(role, table)


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("role", ROLES)
def test_delete(api_conn: psycopg.Connection, world: World, role: str, table: str) -> None:
    sql, params = delete_statement(table)
    assert attempt(api_conn, world, role, sql, params) == expected_delete(role, table)


@pytest.mark.parametrize("gym", ["A1", "B1"])
@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("role", ROLES)
def test_insert(
    api_conn: psycopg.Connection, world: World, role: str, table: str, gym: str
) -> None:
    sql, params = rls_world.insert_statement(table, gym, role)
    got = attempt(api_conn, world, role, sql, params)
    if may_insert(role, table, gym):
        assert got == 1
    else:
        assert got == ("denied" if role == "anon" or table in READ_ONLY else "refused")


# -- with check: nobody moves a row into a gym they do not own -----------------------------------


@pytest.mark.parametrize("role", ["owner_A", "manager_A1", "staff_A1"])
@pytest.mark.parametrize("table", ["gym_members", "manager_alerts", "kiosks"])
def test_cannot_move_rows_to_another_gym(
    api_conn: psycopg.Connection, world: World, role: str, table: str
) -> None:
    got = attempt(
        api_conn,
        world,
        role,
        f"update {table} set gym_id = %s where gym_id = %s",
        (uid("gym", "B1"), uid("gym", "A1")),
    )
    # Staff may not touch kiosks at all (0 rows); everyone else is refused by `with check`.
    assert got == (0 if (role == "staff_A1" and table == "kiosks") else "refused")


def test_manager_cannot_move_gym_to_another_franchise(
    api_conn: psycopg.Connection, world: World
) -> None:
    got = attempt(
        api_conn,
        world,
        "manager_A1",
        "update gyms set franchise_id = %s where id = %s",
        (uid("franchise", "B"), uid("gym", "A1")),
    )
    assert got == "refused"


def test_owner_cannot_promote_to_super_admin(api_conn: psycopg.Connection, world: World) -> None:
    got = attempt(
        api_conn,
        world,
        "owner_A",
        "update users set role = 'super_admin', gym_id = null where id = %s",
        (uid("user", "manager_A1"),),
    )
    assert got == "refused"


def test_staff_work_alerts_but_cannot_reassign(api_conn: psycopg.Connection, world: World) -> None:
    alert = uid("alert", "A1")
    assert (
        attempt(
            api_conn,
            world,
            "staff_A1",
            "update manager_alerts set status = 'in_progress' where id = %s",
            (alert,),
        )
        == 1
    )
    assert (
        attempt(
            api_conn,
            world,
            "staff_A1",
            "update manager_alerts set assigned_to = %s where id = %s",
            (uid("user", "staff_A1"), alert),
        )
        == "denied"
    )
    assert (
        attempt(
            api_conn,
            world,
            "manager_A1",
            "update manager_alerts set assigned_to = %s where id = %s",
            (uid("user", "staff_A1"), alert),
        )
        == 1
    )


def test_kiosk_cannot_file_a_session_for_another_gyms_member(
    api_conn: psycopg.Connection, world: World
) -> None:
    got = attempt(
        api_conn,
        world,
        "kiosk_A1",
        "insert into realtime_sessions (id, gym_id, kiosk_id, member_id, started_at) "
        "values (gen_random_uuid(), %s, %s, %s, now())",
        (uid("gym", "A1"), uid("kiosk", "A1"), uid("member", "B1", "1")),
    )
    assert got == "refused"


def test_kiosk_sees_only_its_own_kiosk_row(api_conn: psycopg.Connection, world: World) -> None:
    with api_conn.transaction(force_rollback=True):
        world.connect_as(api_conn, "kiosk_A1")
        rows = api_conn.execute("select id from kiosks").fetchall()
    assert [r[0] for r in rows] == [uid("kiosk", "A1")]


def test_heartbeat_updates_the_kiosk_row(api_conn: psycopg.Connection, world: World) -> None:
    with api_conn.transaction(force_rollback=True):
        world.connect_as(api_conn, "kiosk_A1")
        api_conn.execute(
            "insert into kiosk_heartbeats (kiosk_id, gym_id, status, ip, software_version) "
            "values (%s, %s, 'error', '10.0.0.7', '9.9.9')",
            (uid("kiosk", "A1"), uid("gym", "A1")),
        )
        row = api_conn.execute(
            "select status, last_seen_ip, software_version from kiosks"
        ).fetchone()
    assert row == ("error", "10.0.0.7", "9.9.9")


def test_a_deactivated_user_sees_nothing(
    postgres: PostgresServer, world: World, api_conn: psycopg.Connection
) -> None:
    with psycopg.connect(world.admin_url) as admin:
        admin.execute(
            "update users set is_active = false where id = %s", (uid("user", "manager_A1"),)
        )
    try:
        assert count(api_conn, world, "manager_A1", "gym_members") == 0
        assert count(api_conn, world, "manager_A1", "users") == 1  # still sees its own row
    finally:
        with psycopg.connect(world.admin_url) as admin:
            admin.execute(
                "update users set is_active = true where id = %s", (uid("user", "manager_A1"),)
            )


# -- super admins act only with a second factor ------------------------------------------------


@pytest.mark.parametrize("table", TABLES)
def test_super_admin_without_mfa_sees_only_their_own_account(
    api_conn: psycopg.Connection, world: World, table: str
) -> None:
    claims = world.claims("super_admin")
    assert claims is not None
    with api_conn.transaction(force_rollback=True):
        api_conn.execute(SET_REQUEST_CONTEXT, request_context({**claims, "aal": "aal1"}))
        row = api_conn.execute(f"select count(*) from public.{table}").fetchone()
        assert row is not None
        updated = (
            0  # append-only or written by the worker only: nobody updates them here
            if table == "audit_log" or table in READ_ONLY
            else api_conn.execute(f"update public.{table} set {NOOP_UPDATE[table]}").rowcount
        )
    assert row[0] == (1 if table == "users" else 0)
    assert updated == 0
