"""`jarvis-cloud db`: migrations and data generators."""

from __future__ import annotations

from typing import Annotated

import typer

from cloud_api.cli.common import database, fail, guarded, load_settings
from cloud_api.db import migrate as migrations

db_app = typer.Typer(help="Database: migrations and data generators.", no_args_is_help=True)


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending migrations (safe to run again)."""
    with database(load_settings()) as resolved:
        assert resolved.database_url
        url = resolved.database_url
        report = guarded(lambda: migrations.migrate(url))
    for migration in report.applied:
        typer.echo(f"applied {migration.version}_{migration.name}")
    for version in report.edited_after_applying:
        typer.secho(
            f"warning: migration {version} was edited after it was applied; add a new "
            "migration instead of editing an applied one",
            fg=typer.colors.YELLOW,
            err=True,
        )
    typer.echo(
        f"{len(report.applied)} applied, {report.already_applied} already applied: up to date"
    )


@db_app.command("status")
def db_status() -> None:
    """List migrations not yet applied."""
    with database(load_settings()) as resolved:
        assert resolved.database_url
        url = resolved.database_url
        todo = guarded(lambda: migrations.pending(url))
    if not todo:
        typer.echo("up to date")
    for migration in todo:
        typer.echo(f"pending {migration.version}_{migration.name}")


@db_app.command("seed")
def db_seed(
    demo: Annotated[bool, typer.Option("--demo", help="A coherent demo data set.")] = False,
    scale: Annotated[
        int | None, typer.Option("--scale", min=1, help="Bulk data: this many gyms.")
    ] = None,
    members_per_gym: Annotated[int, typer.Option(min=1)] = 1000,
    sessions_per_member: Annotated[int, typer.Option(min=0)] = 10,
) -> None:
    """Generate data: `--demo` for a demo, `--scale N` for benchmarks (deterministic)."""
    if demo == (scale is not None):
        raise fail("choose exactly one of --demo or --scale N")
    with database(load_settings()) as resolved:
        assert resolved.database_url
        url = resolved.database_url
        guarded(lambda: migrations.migrate(url))
        if demo:
            from cloud_api.seed.demo import DEMO_PASSWORD, seed_demo

            worker_url = resolved.worker_database_url
            summary = guarded(lambda: seed_demo(url, worker_url=worker_url))
            typer.echo(summary.describe())
            typer.echo(f"demo accounts (password {DEMO_PASSWORD!r}): " + ", ".join(summary.logins))
        else:
            from cloud_api.seed.scale import ScalePlan, seed_scale

            assert scale is not None
            plan = ScalePlan(
                gyms=scale,
                members_per_gym=members_per_gym,
                sessions_per_member=sessions_per_member,
            )
            result = guarded(lambda: seed_scale(url, plan, progress=True))
            typer.echo(result)
