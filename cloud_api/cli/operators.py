"""Operators' commands: gyms, franchises, kiosks and dashboard accounts."""

from __future__ import annotations

import json
from typing import Annotated, Any

import psycopg
import typer

from cloud_api.cli.common import database, fail, guarded, load_settings
from cloud_api.db import migrate as migrations

gyms_app = typer.Typer(help="Gyms.", no_args_is_help=True)
franchises_app = typer.Typer(help="Franchises.", no_args_is_help=True)
kiosks_app = typer.Typer(
    help="Kiosks: create them and issue provisioning codes.", no_args_is_help=True
)
users_app = typer.Typer(help="Dashboard accounts.", no_args_is_help=True)


def _print_rows(rows: list[dict[str, Any]], columns: list[str]) -> None:
    if not rows:
        typer.echo("(none)")
        return
    widths = {c: max(len(c), *(len(str(r[c] or "")) for r in rows)) for c in columns}
    typer.echo("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        typer.echo("  ".join(str(row[c] or "").ljust(widths[c]) for c in columns))


def _query(sql: str) -> list[dict[str, Any]]:
    from psycopg.rows import dict_row

    with database(load_settings()) as resolved:
        assert resolved.database_url
        url = resolved.database_url

        def run() -> list[dict[str, Any]]:
            with psycopg.connect(url, row_factory=dict_row) as conn:
                return conn.execute(sql).fetchall()

        return guarded(run)


@gyms_app.command("list")
def gyms_list() -> None:
    """Every gym with its franchise and kiosk count."""
    rows = _query(
        "select g.slug, g.name, g.city, coalesce(f.slug, '(independent)') as franchise, "
        "g.status, (select count(*) from kiosks k where k.gym_id = g.id) as kiosks "
        "from gyms g left join franchises f on f.id = g.franchise_id order by g.slug"
    )
    _print_rows(rows, ["slug", "name", "city", "franchise", "status", "kiosks"])


@franchises_app.command("list")
def franchises_list() -> None:
    """Every franchise with its gym count."""
    rows = _query(
        "select f.slug, f.name, f.city, f.status, f.subscription_plan as plan, "
        "(select count(*) from gyms g where g.franchise_id = f.id) as gyms "
        "from franchises f order by f.slug"
    )
    _print_rows(rows, ["slug", "name", "city", "status", "plan", "gyms"])


@kiosks_app.command("create")
def kiosks_create(
    gym: Annotated[str, typer.Option(help="The gym's slug (see `jarvis-cloud gyms list`).")],
    name: Annotated[str, typer.Option(help="A name people recognise, e.g. 'Entrance'.")],
    location: Annotated[str | None, typer.Option(help="Where in the gym it stands.")] = None,
) -> None:
    """Create a kiosk and print its six-character provisioning code."""
    import asyncio
    from datetime import timedelta

    from cloud_api import kiosks
    from cloud_api.services import code_pepper
    from provisioning.code import display_code

    settings = load_settings()
    with database(settings) as resolved:
        assert resolved.database_url
        url = resolved.database_url
        guarded(lambda: migrations.migrate(url))

        async def create() -> kiosks.IssuedCode:
            async with (
                await psycopg.AsyncConnection.connect(
                    url, row_factory=psycopg.rows.dict_row
                ) as conn,
                conn.transaction(),
            ):
                return await kiosks.create_kiosk(
                    conn,
                    gym_slug=gym,
                    name=name,
                    location=location,
                    pepper=code_pepper(resolved),
                    ttl=timedelta(minutes=resolved.provisioning_code_ttl_min),
                    actor=kiosks.Actor("system"),
                )

        try:
            issued = guarded(lambda: asyncio.run(create()))
        except kiosks.KioskNotFound as exc:
            raise fail(f"{exc}: see `jarvis-cloud gyms list`") from exc
    typer.echo(f"kiosk {issued.kiosk_slug} ({issued.kiosk_name}) created for {issued.gym_slug}")
    typer.echo(f"provisioning code: {display_code(issued.code)}")
    typer.echo(
        f"valid until {issued.expires_at:%Y-%m-%d %H:%M %Z}; on the kiosk run "
        "`jarvis-kiosk provision` and type it"
    )


ROLES = ("super_admin", "franchise_owner", "gym_manager", "gym_staff")


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Sign-in email.")],
    role: Annotated[
        str, typer.Option(help="super_admin, franchise_owner, gym_manager or gym_staff.")
    ],
    gym: Annotated[str | None, typer.Option(help="Gym slug (managers and staff).")] = None,
    franchise: Annotated[str | None, typer.Option(help="Franchise slug (owners).")] = None,
    full_name: Annotated[str | None, typer.Option(help="Name shown in the dashboard.")] = None,
    password: Annotated[
        str | None,
        typer.Option(help="Password; omitted: a random one is generated and printed once."),
    ] = None,
) -> None:
    """Create a dashboard account (local sign-in; on Supabase, invite users there)."""
    import secrets

    from psycopg.rows import dict_row

    from cloud_api.passwords import hash_password

    if role not in ROLES:
        raise fail(f"--role must be one of {', '.join(ROLES)}")
    needs = {"franchise_owner": "franchise", "gym_manager": "gym", "gym_staff": "gym"}.get(role)
    if needs == "gym" and (gym is None or franchise is not None):
        raise fail(f"a {role} needs --gym SLUG (and no --franchise)")
    if needs == "franchise" and (franchise is None or gym is not None):
        raise fail("a franchise_owner needs --franchise SLUG (and no --gym)")
    if needs is None and (gym or franchise):
        raise fail("a super_admin has no --gym or --franchise")
    generated = password is None
    secret = password or secrets.token_urlsafe(12)
    with database(load_settings()) as resolved:
        assert resolved.database_url
        url = resolved.database_url
        guarded(lambda: migrations.migrate(url))

        def create() -> str:
            with psycopg.connect(url, row_factory=dict_row) as conn, conn.transaction():
                scope_id = None
                if gym or franchise:
                    table = "gyms" if gym else "franchises"
                    row = conn.execute(
                        f"select id from {table} where slug = %s", (gym or franchise,)
                    ).fetchone()
                    if row is None:
                        raise fail(f"no {table[:-1]} with slug {gym or franchise!r}")
                    scope_id = row["id"]
                if conn.execute(
                    "select 1 from auth.users where lower(email) = lower(%s)", (email,)
                ).fetchone():
                    raise fail(f"an account with email {email} already exists")
                user = conn.execute(
                    "insert into auth.users (email, encrypted_password, email_confirmed_at) "
                    "values (%s, %s, now()) returning id",
                    (email, hash_password(secret)),
                ).fetchone()
                assert user is not None
                conn.execute(
                    "insert into users (id, email, full_name, role, franchise_id, gym_id) "
                    "values (%s, %s, %s, %s, %s, %s)",
                    (
                        user["id"],
                        email,
                        full_name,
                        role,
                        scope_id if franchise else None,
                        scope_id if gym else None,
                    ),
                )
                conn.execute(
                    "insert into audit_log (actor_type, gym_id, franchise_id, action, "
                    "target_type, target_id, details) values ('system', %s, %s, 'user.created', "
                    "'user', %s, %s)",
                    (
                        scope_id if gym else None,
                        scope_id if franchise else None,
                        str(user["id"]),
                        json.dumps({"email": email, "role": role}),
                    ),
                )
                return str(user["id"])

        user_id = guarded(create)
    typer.echo(f"created {role} {email} ({user_id})")
    if generated:
        typer.echo(f"password (shown once): {secret}")
