"""Member import into the database: one transaction, all rows or none.

Clean rows are copied (COPY) into a temporary table, matched to existing members — first by
the gym system's member number (`external_id`), then by badge — checked for conflicts (a
badge that belongs to another member, one member matched by two lines), then updated and
inserted with two set statements. Only the fields the mapping names are written. It all runs
under the caller's claims, so RLS decides which gym may be written. A dry run does the same
matching and reports what would happen, writing only the import log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from psycopg import sql

from cloud_api.data import audit
from cloud_api.data.dashboard.common import fetch_all, fetch_one
from cloud_api.db.database import Conn
from cloud_api.member_csv import Mapping, Problem, Validation
from contract.badge import BadgeRules

COLUMNS = (
    "external_id",
    "badge_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "membership_type",
    "member_since",
    "membership_expires_on",
    "is_active",
)
STAGING = """
create temporary table member_import_staging (
    line integer primary key,
    member_id uuid,
    external_id text, badge_id text not null, first_name text not null, last_name text,
    email text, phone text, membership_type text, member_since date,
    membership_expires_on date, is_active boolean, language text
) on commit drop
"""


@dataclass
class ImportResult:
    import_id: UUID | None = None
    status: str = ""
    total: int = 0
    inserted: int = 0
    updated: int = 0
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0


async def remembered_mapping(conn: Conn, gym_id: UUID) -> Mapping | None:
    row = await fetch_one(
        conn,
        "select columns, badge_rules, delimiter from member_import_mappings where gym_id = %s",
        (gym_id,),
    )
    if row is None:
        return None
    return Mapping(
        dict(row["columns"]), BadgeRules.model_validate(row["badge_rules"]), row["delimiter"]
    )


async def remember_mapping(
    conn: Conn, gym_id: UUID, mapping: Mapping, user_id: UUID | None
) -> None:
    await conn.execute(
        "insert into member_import_mappings (gym_id, columns, badge_rules, delimiter, updated_by) "
        "values (%s, %s, %s, %s, %s) on conflict (gym_id) do update set "
        "columns = excluded.columns, badge_rules = excluded.badge_rules, "
        "delimiter = excluded.delimiter, updated_by = excluded.updated_by, updated_at = now()",
        (
            gym_id,
            json.dumps(mapping.columns),
            mapping.badge_rules.model_dump_json(exclude_defaults=True),
            mapping.delimiter,
            user_id,
        ),
    )


async def _stage(conn: Conn, gym_id: UUID, rows: list[dict[str, Any]]) -> list[Problem]:
    """Copy rows into the staging table and match them; conflicts come back as problems."""
    await conn.execute(STAGING)
    names = ("line", *COLUMNS, "language")
    async with conn.cursor().copy(
        sql.SQL("copy member_import_staging ({}) from stdin").format(
            sql.SQL(", ").join(map(sql.Identifier, names))
        )
    ) as copy:
        for row in rows:
            await copy.write_row([row.get(n) for n in names])
    await conn.execute("analyze member_import_staging")
    await conn.execute(
        "update member_import_staging s set member_id = m.id from gym_members m "
        "where m.gym_id = %s and s.external_id is not null and m.external_id = s.external_id",
        (gym_id,),
    )
    await conn.execute(
        # By badge only when the numbers cannot disagree (either side has none).
        "update member_import_staging s set member_id = m.id from gym_members m "
        "where s.member_id is null and m.gym_id = %s and m.badge_id = s.badge_id "
        "and (m.external_id is null or s.external_id is null)",
        (gym_id,),
    )
    conflicts = await fetch_all(
        conn,
        "select s.line, 'badge_id' as field, 'badge ' || s.badge_id || ' belongs to ' || "
        "m.first_name || coalesce(' ' || m.last_name, '') || ', another member' as problem "
        "from member_import_staging s join gym_members m on m.gym_id = %s "
        "and m.badge_id = s.badge_id and m.id is distinct from s.member_id "
        "union all "
        "select s.line, 'external_id', 'this line and line ' || d.first_line || "
        "' are the same member' from member_import_staging s join ("
        "  select member_id, min(line) as first_line from member_import_staging "
        "  where member_id is not null group by member_id having count(*) > 1) d "
        "on d.member_id = s.member_id and s.line <> d.first_line "
        "order by 1 limit 200",
        (gym_id,),
    )
    return [Problem(r["line"], r["field"], r["problem"]) for r in conflicts]


async def _apply(conn: Conn, gym_id: UUID, mapping: Mapping) -> tuple[int, int]:
    mapped = [
        c
        for c in COLUMNS
        if c in mapping.columns or (c == "is_active" and "status" in mapping.columns)
    ]
    sets = sql.SQL(", ").join(
        sql.SQL("{} = coalesce(s.{}, m.{})").format(
            sql.Identifier(c), sql.Identifier(c), sql.Identifier(c)
        )
        for c in mapped
    )
    # Rows that would not change are not written: re-importing the same daily export costs
    # the matching only.
    changed = sql.SQL(" or ").join(
        sql.SQL("(s.{} is not null and s.{} is distinct from m.{})").format(
            sql.Identifier(c), sql.Identifier(c), sql.Identifier(c)
        )
        for c in mapped
    )
    updated = await conn.execute(
        sql.SQL(
            "update gym_members m set {} from member_import_staging s "
            "where m.id = s.member_id and m.gym_id = {} and ({})"
        ).format(sets, sql.Literal(gym_id), changed)
    )
    inserted_columns = [c for c in mapped]
    defaults = {
        "membership_type": "'standard'",
        "member_since": "current_date",
        "is_active": "true",
    }
    values = sql.SQL(", ").join(
        sql.SQL("coalesce(s.{}, {})").format(sql.Identifier(c), sql.SQL(defaults[c]))
        if c in defaults
        else sql.SQL("s.{}").format(sql.Identifier(c))
        for c in inserted_columns
    )
    inserted = await conn.execute(
        sql.SQL(
            "insert into gym_members (gym_id, {}) select {}, {} from member_import_staging s "
            "where s.member_id is null order by s.line"
        ).format(
            sql.SQL(", ").join(map(sql.Identifier, inserted_columns)), sql.Literal(gym_id), values
        )
    )
    if "language" in mapping.columns:
        await conn.execute(
            "insert into member_preferences (member_id, gym_id, language) "
            "select m.id, m.gym_id, s.language from member_import_staging s "
            "join gym_members m on m.gym_id = %s and m.badge_id = s.badge_id "
            "where s.language is not null and not exists (select 1 from member_preferences p "
            "where p.member_id = m.id and p.language = s.language) "
            "on conflict (member_id) do update set language = excluded.language "
            "where member_preferences.language is distinct from excluded.language",
            (gym_id,),
        )
    return inserted.rowcount, updated.rowcount


async def run_import(
    conn: Conn,
    *,
    gym_id: UUID,
    filename: str,
    mapping: Mapping,
    validation: Validation,
    dry_run: bool,
    user_id: UUID | None,
) -> ImportResult:
    """Match, check and (unless a dry run, and only when everything is clean) write; log it.

    The caller's transaction is all or nothing: on any problem nothing is written but the
    log line and the remembered mapping."""
    result = ImportResult(
        total=validation.total,
        problems=list(validation.problems),
        problem_count=validation.problem_count,
    )
    if validation.rows:
        await conn.execute("savepoint member_import")
        conflicts = await _stage(conn, gym_id, validation.rows)
        result.problems = sorted(result.problems + conflicts, key=lambda p: p.line)
        result.problem_count += len(conflicts)
        counts = await fetch_one(
            conn,
            "select count(*) filter (where member_id is null) as new, "
            "count(*) filter (where member_id is not null) as known from member_import_staging",
        )
        assert counts is not None
        if result.problem_count or dry_run:
            result.inserted, result.updated = int(counts["new"]), int(counts["known"])
        else:
            result.inserted, result.updated = await _apply(conn, gym_id, mapping)
        # Only the log and the mapping survive a dry run or a refusal.
        if dry_run or result.problem_count:
            await conn.execute("rollback to savepoint member_import")
        await conn.execute("release savepoint member_import")
    if dry_run:
        result.status = "valid" if result.problem_count == 0 else "invalid"
    else:
        result.status = "imported" if result.problem_count == 0 else "failed"
        if result.status == "failed":
            result.inserted = result.updated = 0
    await remember_mapping(conn, gym_id, mapping, user_id)
    row = await fetch_one(
        conn,
        "insert into member_imports (gym_id, filename, dry_run, status, rows_total, rows_inserted, "
        "rows_updated, rows_rejected, problems, imported_by, finished_at) "
        "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now()) returning id",
        (
            gym_id,
            filename[:255] or "members.csv",
            dry_run,
            result.status,
            result.total,
            result.inserted,
            result.updated,
            result.problem_count,
            json.dumps([p.as_dict() for p in result.problems[:200]]),
            user_id,
        ),
    )
    assert row is not None
    result.import_id = row["id"]
    if not dry_run and result.status == "imported":
        await audit.record(
            conn,
            audit.Actor("user", user_id) if user_id else audit.SYSTEM,
            "members.imported",
            "member_import",
            result.import_id,
            {"inserted": result.inserted, "updated": result.updated},
            gym_id=gym_id,
        )
    return result


async def import_log(conn: Conn, gym_id: UUID | None, limit: int = 20) -> list[dict[str, Any]]:
    rows = await fetch_all(
        conn,
        sql.SQL(
            "select i.id, i.filename, i.dry_run, i.status, i.rows_total, i.rows_inserted, "
            "i.rows_updated, i.rows_rejected, i.started_at, i.finished_at, g.name as gym_name, "
            "u.email as imported_by from member_imports i join gyms g on g.id = i.gym_id "
            "left join users u on u.id = i.imported_by where true {} "
            "order by i.started_at desc limit {}"
        ).format(
            sql.SQL("")
            if gym_id is None
            else sql.SQL("and i.gym_id = {}").format(sql.Literal(gym_id)),
            sql.Literal(limit),
        ),
    )
    return [dict(r) for r in rows]


async def import_entry(conn: Conn, import_id: UUID) -> dict[str, Any] | None:
    row = await fetch_one(
        conn,
        "select i.*, g.name as gym_name, g.slug as gym_slug from member_imports i "
        "join gyms g on g.id = i.gym_id where i.id = %s",
        (import_id,),
    )
    return dict(row) if row else None
