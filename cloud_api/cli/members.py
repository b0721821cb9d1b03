"""`jarvis-cloud members import FILE --gym SLUG [--dry-run]` (a gym system's CSV export),
`members export ID | erase ID` (one member's data, out or gone)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar
from uuid import UUID

import psycopg
import typer
from tqdm import tqdm

from cloud_api import member_csv
from cloud_api.cli.common import admin_work, database, fail, guarded, load_settings
from cloud_api.data.dashboard import member_import
from cloud_api.data.dashboard.profile import gym_by_slug
from cloud_api.db.database import Conn
from contract.badge import BadgeEncoding, BadgeRules, ByteOrder

T = TypeVar("T")

members_app = typer.Typer(
    help="Members' data: import a gym's export, export one, erase one.", no_args_is_help=True
)

MemberId = Annotated[str, typer.Argument(help="The member's id (a UUID).")]


def _member_id(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError as exc:
        raise fail(f"{value!r} is not a member id (a UUID)") from exc


def _operator() -> str:
    return os.environ.get("USER") or "operator"


@members_app.command("export")
def members_export(
    member: MemberId,
    out: Annotated[
        Path | None, typer.Option(help="Write the JSON here (mode 0600) instead of stdout.")
    ] = None,
) -> None:
    """Everything held about one member, as one JSON document (audited)."""
    from cloud_api.data.stewardship import export_member

    member_id = _member_id(member)
    document = _on_member(member_id, export_member)
    text = json.dumps(document, ensure_ascii=False, indent=2, default=str)
    if out is None:
        typer.echo(text)
        return
    out.touch(mode=0o600)
    out.write_text(text + "\n", encoding="utf-8")
    typer.echo(f"exported member {member_id} to {out}")


@members_app.command("erase")
def members_erase(
    member: MemberId,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this cannot be undone.")] = False,
) -> None:
    """Erase one member and everything about them (audited, cannot be undone)."""
    from cloud_api.data.stewardship import erase_member

    member_id = _member_id(member)
    if not yes:
        raise fail("erasing a member cannot be undone: run again with --yes")
    counts = _on_member(member_id, erase_member)
    typer.echo(f"erased member {member_id}: " + ", ".join(f"{n} {k}" for k, n in counts.items()))


def _on_member(member_id: UUID, work: Callable[..., T]) -> T:
    """``work(conn, member_id, actor=…)`` in one transaction as the operator; an unknown
    member is one clear line."""
    from cloud_api.data.stewardship import MemberNotFound

    with database(load_settings()) as resolved:
        assert resolved.database_url
        url = resolved.database_url

        def run() -> T:
            with psycopg.connect(url) as conn, conn.transaction():
                return work(conn, member_id, actor=_operator())

        try:
            return guarded(run)
        except MemberNotFound as exc:
            raise fail(f"no member {member_id}") from exc


def _mapping_option(values: list[str]) -> dict[str, str]:
    chosen = {}
    for value in values:
        name, sep, header = value.partition("=")
        if not sep or name not in member_csv.FIELDS:
            raise fail(f"--map takes FIELD=Header with FIELD one of {', '.join(member_csv.FIELDS)}")
        chosen[name] = header
    return chosen


@members_app.command("import")
def import_members(
    file: Annotated[Path, typer.Argument(help="The CSV export (UTF-8 or Windows-1252, , or ;).")],
    gym: Annotated[str, typer.Option(help="The gym's slug (see `jarvis-cloud gyms list`).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every line and say what would change.")
    ] = False,
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="FIELD=Header, e.g. --map badge_id='N° badge' (default: the gym's last mapping, "
            "else guessed from the header). Remembered for the next import.",
        ),
    ] = None,
    badge_encoding: Annotated[
        BadgeEncoding | None, typer.Option(help="How the file writes badges (hex, decimal...).")
    ] = None,
    byte_order: Annotated[
        ByteOrder | None, typer.Option(help="msb_first, or lsb_first for reversed ids.")
    ] = None,
) -> None:
    """Import (upsert) members from a CSV; nothing is written unless every line is valid."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror}") from exc
    text = member_csv.decode(data)
    try:
        header, delimiter = member_csv.header_of(text)
    except member_csv.FileRefused as exc:
        raise fail(f"{file.name}: {exc}") from exc
    settings = load_settings()
    with database(settings) as resolved:

        async def run(conn: Conn) -> member_import.ImportResult:
            found = await gym_by_slug(conn, gym)
            if found is None:
                raise fail(f"no gym {gym!r}: see `jarvis-cloud gyms list`")
            remembered = await member_import.remembered_mapping(conn, found.id)
            columns = member_csv.guess_mapping(header, remembered.columns if remembered else None)
            columns.update(_mapping_option(map_ or []))
            rules = (remembered.badge_rules if remembered else BadgeRules()).model_copy(
                update={
                    key: value
                    for key, value in {"encoding": badge_encoding, "byte_order": byte_order}.items()
                    if value is not None
                }
            )
            mapping = member_csv.Mapping(columns, rules, delimiter)
            typer.echo(
                "mapping: " + ", ".join(f"{field} ← {name!r}" for field, name in columns.items())
            )
            with tqdm(total=text.count("\n"), unit="line", desc="checking") as bar:

                def advance(done: int) -> None:
                    bar.update(done - bar.n)

                checked = member_csv.validate(text, mapping, progress=advance)
            return await member_import.run_import(
                conn,
                gym_id=found.id,
                filename=file.name,
                mapping=mapping,
                validation=checked,
                dry_run=dry_run,
                user_id=None,
            )

        try:
            result = admin_work(resolved, run)
        except member_csv.FileRefused as exc:
            raise fail(f"{file.name}: {exc}") from exc
    for problem in result.problems:
        typer.echo(f"line {problem.line}: {problem.field}: {problem.problem}", err=True)
    if result.problem_count > len(result.problems):
        typer.echo(f"... and {result.problem_count - len(result.problems)} more", err=True)
    verb = "would add" if dry_run else "added"
    summary = (
        f"{result.total} lines: {verb} {result.inserted}, "
        f"{'would update' if dry_run else 'updated'} {result.updated}"
    )
    if result.problem_count:
        raise fail(f"{result.problem_count} problem(s) in {result.total} lines: nothing imported")
    typer.echo(summary + (" (dry run: nothing written)" if dry_run else ""))
