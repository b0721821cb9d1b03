"""Member import of a 100,000-line CSV (issue 11: ≤ 30 s), as a gym manager under RLS.

Times the phases of a first import (all new members), a second one (every member changed)
and the same file again (nothing changed, the daily case):
reading and checking the lines, the database work (COPY, matching, upsert, preferences), and
the whole. The baseline, measured in the same run, is a bare COPY of the same rows into a
temporary table: what the disk and Postgres cost before any of our work.

    python -m bench.member_import [--rows 100000]

Writes bench/results/member_import.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from bench.machine import machine
from cloud_api import member_csv
from cloud_api.data.dashboard import member_import
from cloud_api.db.database import SET_REQUEST_CONTEXT, request_context
from cloud_api.db.embedded import API_ROLE, EmbeddedPostgres, with_params
from cloud_api.db.migrate import migrate

RESULTS = Path(__file__).parent / "results" / "member_import.json"
HEADER = (
    "N° adhérent;Prénom;Nom;E-mail;N° badge;Abonnement;Date inscription;Date fin;Statut;Langue\n"
)


def export(rows: int, variant: str) -> str:
    return HEADER + "".join(
        f"A{i:07d};Prénom{i};Nom{variant}{i};p{i}@example.com;{0x10000000 + i:08X};Premium;"
        f"01/02/2025;31/12/2027;actif;{'fr' if i % 3 else 'en'}\n"
        for i in range(rows)
    )


async def one_import(
    api_url: str, claims: dict[str, Any], gym_id: uuid.UUID, text: str
) -> dict[str, float]:
    started = time.perf_counter()
    header, delimiter = member_csv.header_of(text)
    mapping = member_csv.Mapping(member_csv.guess_mapping(header), delimiter=delimiter)
    checked = member_csv.validate(text, mapping)
    checked_at = time.perf_counter()
    assert checked.ok, checked.problems[:3]
    async with (
        await psycopg.AsyncConnection.connect(api_url, row_factory=dict_row) as conn,
        conn.transaction(),
    ):
        await conn.execute(SET_REQUEST_CONTEXT, request_context(claims))
        result = await member_import.run_import(
            conn,
            gym_id=gym_id,
            filename="bench.csv",
            mapping=mapping,
            validation=checked,
            dry_run=False,
            user_id=uuid.UUID(claims["sub"]),
        )
    done = time.perf_counter()
    assert result.status == "imported", result.problems[:3]
    return {
        "check_s": round(checked_at - started, 2),
        "database_s": round(done - checked_at, 2),
        "total_s": round(done - started, 2),
        "inserted": result.inserted,
        "updated": result.updated,
    }


def baseline_copy(admin_url: str, text: str) -> float:
    lines = text.splitlines()[1:]
    with psycopg.connect(admin_url) as conn, conn.transaction():
        conn.execute("create temporary table raw (line text) on commit drop")
        started = time.perf_counter()
        with conn.cursor().copy("copy raw (line) from stdin") as copy:
            for line in lines:
                copy.write_row([line])
        return round(time.perf_counter() - started, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="jarvis-bench-import-"))
    folder.chmod(0o755)
    server = EmbeddedPostgres(folder)
    try:
        admin = server.start()
        migrate(admin)
        with psycopg.connect(admin, row_factory=dict_row) as conn:
            gym = conn.execute(
                "insert into gyms (slug, name) values ('bench-gym', 'Bench') returning id"
            ).fetchone()["id"]  # type: ignore[index]
            user = conn.execute(
                "insert into auth.users (email) values ('m@bench.test') returning id"
            ).fetchone()["id"]  # type: ignore[index]
            conn.execute(
                "insert into users (id, email, role, gym_id) "
                "values (%s, 'm@bench.test', 'gym_manager', %s)",
                (user, gym),
            )
        claims = {"sub": str(user), "role": "authenticated", "aal": "aal1"}
        api = with_params(admin, user=API_ROLE, password="")
        first_text, second_text = export(args.rows, "A"), export(args.rows, "B")
        report = {
            "machine": machine(),
            "rows": args.rows,
            "baseline_bare_copy_s": baseline_copy(admin, first_text),
            "first_import": asyncio.run(one_import(api, claims, gym, first_text)),
            "second_import": asyncio.run(one_import(api, claims, gym, second_text)),
            # The daily case: the same export again, nothing changed.
            "same_again": asyncio.run(one_import(api, claims, gym, second_text)),
        }
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    for phase in ("first_import", "second_import", "same_again"):
        r = report[phase]
        print(
            f"{phase}: {r['total_s']} s (check {r['check_s']} s, database {r['database_s']} s) "
            f"— {r['inserted']} new, {r['updated']} updated; "
            f"{r['total_s'] / report['baseline_bare_copy_s']:.1f}× a bare COPY"  # type: ignore[operator]
        )
    print(f"baseline, bare COPY of the lines: {report['baseline_bare_copy_s']} s")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print(f"written {RESULTS}")


if __name__ == "__main__":
    main()
