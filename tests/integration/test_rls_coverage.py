"""Structural RLS checks that fail the day someone adds a table or policy carelessly."""

from __future__ import annotations

import re

import psycopg

FUNCTION_CALL = re.compile(r"\b(auth|private)\.[a-z_]+\(\)")


def test_every_public_table_has_rls_and_policies(migrated_db: str) -> None:
    with psycopg.connect(migrated_db) as conn:
        rows = conn.execute(
            "select c.relname, c.relrowsecurity, "
            "       (select count(*) from pg_policies p where p.schemaname = 'public' "
            "        and p.tablename = c.relname) "
            "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'public' and c.relkind in ('r', 'p')"
        ).fetchall()
    assert len(rows) >= 15
    missing_rls = [name for name, rls, _ in rows if not rls]
    missing_policy = [name for name, _, policies in rows if policies == 0]
    assert missing_rls == []
    assert missing_policy == []


def test_no_policy_calls_a_function_unwrapped(migrated_db: str) -> None:
    """`auth.uid()` and the private helpers must run once per statement: `(select f())`."""
    with psycopg.connect(migrated_db) as conn:
        policies = conn.execute(
            "select tablename, policyname, coalesce(qual, '') || ' ' || coalesce(with_check, '') "
            "from pg_policies where schemaname = 'public'"
        ).fetchall()
    unwrapped = []
    for table, name, text in policies:
        for match in FUNCTION_CALL.finditer(text):
            if not text[: match.start()].rstrip().endswith("SELECT"):
                unwrapped.append(f"{table}.{name}: {match.group(0)}")
    assert policies
    assert unwrapped == []


def test_every_policy_targets_authenticated(migrated_db: str) -> None:
    with psycopg.connect(migrated_db) as conn:
        roles = conn.execute(
            "select distinct array_to_string(roles, ',') from pg_policies where schemaname = 'public'"
        ).fetchall()
    assert roles == [("authenticated",)]


def test_every_gym_id_column_leads_an_index(migrated_db: str) -> None:
    with psycopg.connect(migrated_db) as conn:
        unindexed = conn.execute(
            """
            select c.relname, a.attname
            from pg_attribute a
            join pg_class c on c.oid = a.attrelid
            join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = 'public' and c.relkind = 'r'
              and a.attname in ('gym_id', 'franchise_id', 'kiosk_id', 'session_id') and not a.attisdropped
              and not exists (
                  select 1 from pg_index i
                  where i.indrelid = c.oid and i.indkey[0] = a.attnum)
            order by 1, 2
            """
        ).fetchall()
    assert unindexed == []


# The only helpers an anonymous caller (the API, before it knows who is calling) may run.
ANON_ENTRY_POINTS = {
    "claim_kiosk",
    "kiosk_credential_check",
    "local_login_lookup",
    "local_login_record",
    # the local issuer's refresh sessions and invitations (sign-in, sign-out, set password)
    "local_session_start",
    "local_session_refresh",
    "local_session_end",
    "local_invitation_accept",
    "local_invitation_lookup",
}


def test_helpers_are_locked_down(migrated_db: str) -> None:
    with psycopg.connect(migrated_db) as conn:
        helpers = conn.execute(
            "select p.proname, p.prosecdef, p.proconfig, "
            "       has_function_privilege('anon', p.oid, 'execute') "
            "from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
            "where n.nspname = 'private'"
        ).fetchall()
    assert helpers
    for name, _definer, config, anon_can_run in helpers:
        assert config == ['search_path=""'], name
        assert anon_can_run == (name in ANON_ENTRY_POINTS), name


def test_api_role_cannot_bypass_rls(migrated_db: str) -> None:
    with psycopg.connect(migrated_db) as conn:
        row = conn.execute(
            "select rolsuper, rolbypassrls, rolinherit, rolcanlogin, "
            "       pg_has_role('jarvis_api', 'service_role', 'member'), "
            "       pg_has_role('jarvis_api', 'postgres', 'member') "
            "from pg_roles where rolname = 'jarvis_api'"
        ).fetchone()
    assert row == (False, False, False, True, False, False)
