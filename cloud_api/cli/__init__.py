"""`jarvis-cloud`: the cloud's command line. Thin: each command is a few lines over the library."""

from __future__ import annotations

import sys

import typer

from cloud_api.cli import db, jobs, members, operators, serving

app = typer.Typer(
    name="jarvis-cloud",
    help="JARVIS cloud: API, database, simulator and operators' commands. "
    "Uses an embedded Postgres in ./.jarvis unless DATABASE_URL is set.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(serving.serve)
app.command()(serving.demo)
app.command()(serving.simulator)
app.command()(jobs.worker)
app.add_typer(jobs.jobs_app, name="jobs")
app.add_typer(db.db_app, name="db")
app.add_typer(operators.gyms_app, name="gyms")
app.add_typer(operators.franchises_app, name="franchises")
app.add_typer(operators.kiosks_app, name="kiosks")
app.add_typer(operators.users_app, name="users")
app.add_typer(members.members_app, name="members")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
