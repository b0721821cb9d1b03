"""`jarvis-cloud members export ID | erase ID`: one member's data, out or gone."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated
from uuid import UUID

import psycopg
import typer

from cloud_api.cli.common import database, fail, guarded, load_settings

members_app = typer.Typer(help="Members' data: export one, erase one.", no_args_is_help=True)

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
    from cloud_api.data.stewardship import MemberNotFound, export_member

    member_id = _member_id(member)
    with database(load_settings()) as resolved:
        assert resolved.database_url
        url = resolved.database_url

        def run() -> dict[str, object]:
            with psycopg.connect(url) as conn, conn.transaction():
                return export_member(conn, member_id, actor=_operator())

        try:
            document = guarded(run)
        except MemberNotFound as exc:
            raise fail(f"no member {member_id}") from exc
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
    from cloud_api.data.stewardship import MemberNotFound, erase_member

    member_id = _member_id(member)
    if not yes:
        raise fail("erasing a member cannot be undone: run again with --yes")
    with database(load_settings()) as resolved:
        assert resolved.database_url
        url = resolved.database_url

        def run() -> dict[str, int]:
            with psycopg.connect(url) as conn, conn.transaction():
                return erase_member(conn, member_id, actor=_operator())

        try:
            counts = guarded(run)
        except MemberNotFound as exc:
            raise fail(f"no member {member_id}") from exc
    typer.echo(f"erased member {member_id}: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
