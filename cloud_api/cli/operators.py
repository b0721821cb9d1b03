"""Operators' commands: gyms, franchises, kiosks and dashboard accounts.

Each command calls the same data functions as the API (`cloud_api.data`), over the
operator's connection (`admin_work`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import typer

from cloud_api.cli.common import admin_work, database, fail, guarded, load_settings
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


@gyms_app.command("list")
def gyms_list() -> None:
    """Every gym with its franchise and kiosk count."""
    from cloud_api.data.gyms import list_gyms

    with database(load_settings()) as resolved:
        rows = admin_work(resolved, list_gyms)
    _print_rows(rows, ["slug", "name", "city", "franchise", "status", "kiosks"])


@franchises_app.command("list")
def franchises_list() -> None:
    """Every franchise with its gym count."""
    from cloud_api.data.gyms import list_franchises

    with database(load_settings()) as resolved:
        rows = admin_work(resolved, list_franchises)
    _print_rows(rows, ["slug", "name", "city", "status", "plan", "gyms"])


@kiosks_app.command("create")
def kiosks_create(
    gym: Annotated[str, typer.Option(help="The gym's slug (see `jarvis-cloud gyms list`).")],
    name: Annotated[str, typer.Option(help="A name people recognise, e.g. 'Entrance'.")],
    location: Annotated[str | None, typer.Option(help="Where in the gym it stands.")] = None,
) -> None:
    """Create a kiosk and print its six-character provisioning code."""
    from cloud_api.data import kiosks
    from cloud_api.data.audit import SYSTEM
    from cloud_api.services import code_pepper
    from provisioning.code import display_code

    with database(load_settings()) as resolved:
        assert resolved.database_url
        url = resolved.database_url
        guarded(lambda: migrations.migrate(url))
        try:
            issued = admin_work(
                resolved,
                lambda conn: kiosks.create_kiosk(
                    conn,
                    gym_slug=gym,
                    name=name,
                    location=location,
                    pepper=code_pepper(resolved),
                    ttl=timedelta(minutes=resolved.provisioning_code_ttl_min),
                    actor=SYSTEM,
                ),
            )
        except kiosks.KioskNotFound as exc:
            raise fail(f"{exc}: see `jarvis-cloud gyms list`") from exc
    typer.echo(f"kiosk {issued.kiosk_slug} ({issued.kiosk_name}) created for {issued.gym_slug}")
    typer.echo(f"provisioning code: {display_code(issued.code)}")
    typer.echo(
        f"valid until {issued.expires_at:%Y-%m-%d %H:%M %Z}; on the kiosk run "
        "`jarvis-kiosk provision` and type it"
    )


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

    from cloud_api.data import users
    from cloud_api.passwords import hash_password

    if role not in users.ROLES:
        raise fail(f"--role must be one of {', '.join(users.ROLES)}")
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
        try:
            user_id = admin_work(
                resolved,
                lambda conn: users.create_user(
                    conn,
                    email=email,
                    password_hash=hash_password(secret),
                    role=role,
                    full_name=full_name,
                    gym_slug=gym,
                    franchise_slug=franchise,
                ),
            )
        except (users.ScopeNotFound, users.EmailTaken) as exc:
            raise fail(str(exc)) from exc
    typer.echo(f"created {role} {email} ({user_id})")
    if generated:
        typer.echo(f"password (shown once): {secret}")


@users_app.command("mfa-code")
def users_mfa_code(
    email: Annotated[str, typer.Option(help="The account (local issuer).")],
) -> None:
    """Print the account's current second-factor code (development and demos only)."""
    from cloud_api.auth.totp import current_code
    from cloud_api.data import local_auth
    from cloud_api.services import totp_sealer

    settings = load_settings()
    if settings.environment == "production":
        raise fail("mfa-code is for development and demos: in production use the authenticator")
    with database(settings) as resolved:
        sealed = admin_work(resolved, lambda conn: local_auth.factor_of(conn, email))
        if sealed is None:
            raise fail(f"{email} has no second factor (they enrol one at their next sign-in)")
        typer.echo(current_code(totp_sealer(resolved).unseal(sealed)))


@users_app.command("mfa-reset")
def users_mfa_reset(
    email: Annotated[str, typer.Option(help="The account whose authenticator was lost.")],
) -> None:
    """Forget an account's second factor: they set up a new one at their next sign-in."""
    from cloud_api.data import local_auth

    settings = load_settings()
    with database(settings) as resolved:
        if not admin_work(resolved, lambda conn: local_auth.drop_factor(conn, email)):
            raise fail(f"{email} has no second factor")
    typer.echo(f"second factor of {email} removed: a new one is set up at the next sign-in")
