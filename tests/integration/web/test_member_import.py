"""Member import against a real Postgres under RLS: upsert by member number then by badge,
all-or-nothing on any problem, the mapping remembered per gym, and the CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg.rows import dict_row

from cloud_api import member_csv
from cloud_api.data.dashboard import member_import
from cloud_api.db.database import SET_REQUEST_CONTEXT, request_context
from tests.conftest import PostgresServer

FILE = (
    "Member ID;First name;Last name;Badge;End date;Language\n"
    "M-1;Ana;Silva;0A000001;2027-06-30;pt\n"
    "M-2;Ben;Stone;0A000002;2027-06-30;en\n"
)


class World:
    def __init__(self, admin: str, api: str) -> None:
        self.admin, self.api = admin, api
        with psycopg.connect(admin, row_factory=dict_row) as conn:
            self.gym_a = conn.execute(
                "insert into gyms (slug, name) values ('imp-a', 'Import A') returning id"
            ).fetchone()["id"]  # type: ignore[index]
            self.gym_b = conn.execute(
                "insert into gyms (slug, name) values ('imp-b', 'Import B') returning id"
            ).fetchone()["id"]  # type: ignore[index]
            for email, gym in (("mgr@a.test", self.gym_a), ("staff@b.test", self.gym_b)):
                user = conn.execute(
                    "insert into auth.users (email) values (%s) returning id", (email,)
                ).fetchone()["id"]  # type: ignore[index]
                conn.execute(
                    "insert into users (id, email, role, gym_id) values (%s, %s, 'gym_staff', %s)",
                    (user, email, gym),
                )
                setattr(self, email.split("@")[0], user)

    def claims(self, user: UUID) -> dict[str, Any]:
        return {"sub": str(user), "role": "authenticated", "aal": "aal1"}

    def members(self, gym: UUID) -> list[dict[str, Any]]:
        with psycopg.connect(self.admin, row_factory=dict_row) as conn:
            return conn.execute(
                "select m.external_id, m.first_name, m.badge_id, m.membership_expires_on, "
                "p.language from gym_members m left join member_preferences p "
                "on p.member_id = m.id where m.gym_id = %s order by m.badge_id",
                (gym,),
            ).fetchall()

    def run(
        self, user: UUID, gym: UUID, text: str, *, dry_run: bool = False
    ) -> member_import.ImportResult:
        header, delimiter = member_csv.header_of(text)
        mapping = member_csv.Mapping(member_csv.guess_mapping(header), delimiter=delimiter)
        checked = member_csv.validate(text, mapping)

        async def go() -> member_import.ImportResult:
            async with (
                await psycopg.AsyncConnection.connect(self.api, row_factory=dict_row) as conn,
                conn.transaction(),
            ):
                await conn.execute(SET_REQUEST_CONTEXT, request_context(self.claims(user)))
                return await member_import.run_import(
                    conn,
                    gym_id=gym,
                    filename="m.csv",
                    mapping=mapping,
                    validation=checked,
                    dry_run=dry_run,
                    user_id=user,
                )

        return asyncio.run(go())


@pytest.fixture(scope="module")
def world(postgres: PostgresServer) -> World:
    admin = postgres.create_database("member_import")
    return World(admin, postgres.api_url(admin))


def test_a_dry_run_says_what_would_happen_and_writes_only_the_log(world: World) -> None:
    result = world.run(world.mgr, world.gym_a, FILE, dry_run=True)  # type: ignore[attr-defined]
    assert (result.status, result.inserted, result.updated) == ("valid", 2, 0)
    assert world.members(world.gym_a) == []
    with psycopg.connect(world.admin, row_factory=dict_row) as conn:
        mapping = conn.execute(
            "select columns from member_import_mappings where gym_id = %s", (world.gym_a,)
        ).fetchone()
    assert mapping is not None
    assert mapping["columns"]["badge_id"] == "Badge"


def test_import_then_update_by_member_number_then_by_badge(world: World) -> None:
    first = world.run(world.mgr, world.gym_a, FILE)  # type: ignore[attr-defined]
    assert (first.status, first.inserted, first.updated) == ("imported", 2, 0)
    assert [(m["external_id"], m["language"]) for m in world.members(world.gym_a)] == [
        ("M-1", "pt"),
        ("M-2", "en"),
    ]
    # Ana got a new badge (matched by her number); a member without number matches by badge.
    second = world.run(
        world.mgr,  # type: ignore[attr-defined]
        world.gym_a,
        "Member ID;First name;Badge;End date\nM-1;Ana;0A000009;2028-01-31\n;Benjamin;0A000002;\n",
    )
    assert (second.status, second.inserted, second.updated) == ("imported", 0, 2)
    rows = world.members(world.gym_a)
    assert [(m["external_id"], m["first_name"], m["badge_id"]) for m in rows] == [
        ("M-2", "Benjamin", "0A000002"),
        ("M-1", "Ana", "0A000009"),
    ]
    assert str(rows[0]["membership_expires_on"]) == "2027-06-30"  # empty cell: kept


def test_one_bad_line_or_conflict_imports_nothing(world: World) -> None:
    before = world.members(world.gym_a)
    bad = world.run(
        world.mgr,  # type: ignore[attr-defined]
        world.gym_a,
        "Member ID;First name;Badge\nM-3;Cara;0A000003\nM-4;;0A000004\n",
    )
    assert bad.status == "failed"
    assert [(p.line, p.field) for p in bad.problems] == [(3, "first_name")]
    # Line 2 takes Ana's badge for someone else: refused by the database check.
    clash = world.run(
        world.mgr,  # type: ignore[attr-defined]
        world.gym_a,
        "Member ID;First name;Badge\nM-5;Dan;0A000005\nM-6;Eve;0A000009\n",
    )
    assert clash.status == "failed"
    assert [(p.line, p.field) for p in clash.problems] == [(3, "badge_id")]
    assert "belongs to Ana" in clash.problems[0].problem
    assert world.members(world.gym_a) == before


def test_staff_of_another_gym_cannot_import_into_this_one(world: World) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        world.run(world.staff, world.gym_a, FILE.replace("0A00000", "0B00000"))  # type: ignore[attr-defined]
    assert all(m["badge_id"].startswith("0A") for m in world.members(world.gym_a))


def test_the_cli_imports_with_the_remembered_mapping(world: World, tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text("Member ID;First name;Badge\nM-7;Gus;0A000007\nM-8;Hal;0A0000ZZ\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JARVIS_", "DATABASE_URL"))}
    env.update({"DATABASE_URL": world.admin, "JARVIS_DATA_DIR": str(tmp_path / "jarvis")})
    cli = [sys.executable, "-c", "from cloud_api.cli import main; main()", "members", "import"]
    refused = subprocess.run(
        [*cli, str(export), "--gym", "imp-b", "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 1
    assert "line 3: badge_id: badge '0A0000ZZ' is not hexadecimal" in refused.stderr
    assert "1 problem(s) in 2 lines: nothing imported" in refused.stderr
    export.write_text("Member ID;First name;Badge\nM-7;Gus;0A000007\nM-8;Hal;0A000008\n")
    done = subprocess.run(
        [*cli, str(export), "--gym", "imp-b"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "2 lines: added 2, updated 0" in done.stdout
    assert [m["first_name"] for m in world.members(world.gym_b)] == ["Gus", "Hal"]
    unknown = subprocess.run(
        [*cli, str(export), "--gym", "nope"], env=env, capture_output=True, text=True, check=False
    )
    assert unknown.returncode == 1
    assert "no gym 'nope'" in unknown.stderr


def test_saving_preferences_marks_members_changed_for_the_kiosks_sync(world: World) -> None:
    with psycopg.connect(world.admin, row_factory=dict_row) as conn:
        before = conn.execute(
            "select id, updated_at from gym_members where gym_id = %s order by id", (world.gym_a,)
        ).fetchall()
        conn.execute(
            "update member_preferences set language = 'es' where gym_id = %s", (world.gym_a,)
        )
        conn.commit()
        after = conn.execute(
            "select id, updated_at from gym_members where gym_id = %s order by id", (world.gym_a,)
        ).fetchall()
    assert before
    assert all(a["updated_at"] > b["updated_at"] for a, b in zip(after, before, strict=True))
