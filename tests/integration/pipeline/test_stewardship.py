"""`jarvis-cloud members export` and `members erase`: one JSON document with everything held
about a member; erasure leaves no row, embedding or queued job mentioning them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from cloud_api.cli import app
from tests.conftest import PostgresServer
from tests.integration.pipeline import world

FIRST, LAST = "Zéphyrine", "Quintalou"


@pytest.fixture(scope="module")
def admin(postgres: PostgresServer) -> str:
    return postgres.create_database("stewardship")


def cli(admin: str, *args: str) -> Any:
    return CliRunner().invoke(
        app, list(args), env={"DATABASE_URL": admin, "JARVIS_ENVIRONMENT": "test"}
    )


def mentions(admin: str, needles: list[str]) -> list[str]:
    """Every (table.column) in public, auth and the job queue holding one of the needles."""
    found = []
    with psycopg.connect(admin) as conn:
        columns = conn.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_schema in ('public', 'procrastinate', 'auth') "
            "and data_type in ('text', 'character varying', 'jsonb', 'uuid', 'ARRAY', 'USER-DEFINED') "
            "and (table_schema, table_name) in (select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE')"
        ).fetchall()
        for schema, table, column in columns:
            for needle in needles:
                row = conn.execute(
                    f'select count(*) from "{schema}"."{table}" where "{column}"::text ilike %s',
                    (f"%{needle}%",),
                ).fetchone()
                if row and row[0]:
                    found.append(f"{table}.{column}~{needle}")
    return found


def test_export_then_erase_leaves_nothing_behind(
    admin: str, postgres: PostgresServer, tmp_path: Path
) -> None:
    settings = world.worker_settings(postgres, admin)
    gym = world.add_gym(admin, "stewards")
    member = world.add_member(admin, gym, FIRST)
    other = world.add_member(admin, gym, "Autre")
    with psycopg.connect(admin) as conn:
        conn.execute(
            "update gym_members set last_name = %s, email = 'zq@example.test', phone = '+33 6 11 22 33 44' where id = %s",
            (LAST, member),
        )
        badge = conn.execute(
            "select badge_id from gym_members where id = %s", (member,)
        ).fetchone()[0]  # type: ignore[index]
        conn.execute(
            "insert into member_fitness_profile (member_id, gym_id, primary_goals) values (%s, %s, '{endurance}')",
            (member, gym.id),
        )
        conn.execute(
            "insert into kiosk_events (id, kiosk_id, gym_id, kind, occurred_at, badge_id, member_id) "
            "values (gen_random_uuid(), %s, %s, 'badge_refused', now(), %s, %s)",
            (gym.kiosk_id, gym.id, badge, member),
        )
    for line in (f"Bonjour, je suis {FIRST} {LAST}.", "Le tapis est en panne, j'en ai marre."):
        world.store_session(admin, gym, member, [line])
    world.store_session(admin, gym, other, ["Merci !"])
    world.analyse_all(settings)
    assert (
        world.one(admin, "select count(*) from manager_alerts where member_id = %s", (member,)) >= 1
    )

    out = tmp_path / "member.json"
    result = cli(admin, "members", "export", str(member), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o777 == 0o600
    document = json.loads(out.read_text())
    assert document["member"]["first_name"] == FIRST
    assert len(document["sessions"]) == 2
    assert any(LAST in t["content"] for s in document["sessions"] for t in s["turns"])
    assert document["conversation_summaries"][0]["embedding_model"] == "local-hash-v1"
    assert document["alerts"]
    assert document["fitness_profile"]

    refused = cli(admin, "members", "erase", str(member))
    assert refused.exit_code == 1
    assert "--yes" in refused.output
    result = cli(admin, "members", "erase", str(member), "--yes")
    assert result.exit_code == 0, result.output

    needles = [str(member), FIRST, LAST, "zq@example.test", "11 22 33 44"]
    assert mentions(admin, needles) == []
    # The badge stays only in the tombstone that makes kiosks forget the member.
    assert mentions(admin, [badge]) == ["gym_member_deletions.badge_id~" + badge]
    assert (
        world.one(
            admin,
            "select count(*) from conversation_summaries where embedding is not null and gym_id = %s",
            (gym.id,),
        )
        == 1
    )  # the other member's
    assert world.one(
        admin,
        "select action, target_id like 'sha256:%%' from audit_log where action = 'member.erased'",
    ) == ("member.erased", True)
    assert (
        world.one(admin, "select count(*) from realtime_sessions where member_id = %s", (other,))
        == 1
    )
    missing = cli(admin, "members", "erase", str(member), "--yes")
    assert missing.exit_code == 1
    assert "no member" in missing.output
    assert cli(admin, "members", "export", "not-a-uuid").exit_code == 1
