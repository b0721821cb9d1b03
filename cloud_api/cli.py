"""`jarvis-cloud`: the cloud's command line. Thin: each command is a few lines over the library."""

from __future__ import annotations

import errno
import json
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import psycopg
import typer
from pydantic import ValidationError

from cloud_api.config import CloudSettings
from cloud_api.db import migrate as migrations
from cloud_api.db.errors import DatabaseError, MigrationsPending
from cloud_api.runtime import resolved_database

app = typer.Typer(
    name="jarvis-cloud",
    help="JARVIS cloud: API, dashboard, database and jobs. "
    "Uses an embedded Postgres in ./.jarvis unless DATABASE_URL is set.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database: migrations and data generators.", no_args_is_help=True)
gyms_app = typer.Typer(help="Gyms.", no_args_is_help=True)
franchises_app = typer.Typer(help="Franchises.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(gyms_app, name="gyms")
app.add_typer(franchises_app, name="franchises")
kiosks_app = typer.Typer(
    help="Kiosks: create them and issue provisioning codes.", no_args_is_help=True
)
users_app = typer.Typer(help="Dashboard accounts.", no_args_is_help=True)
app.add_typer(kiosks_app, name="kiosks")
app.add_typer(users_app, name="users")

T = TypeVar("T")


def fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


def load_settings() -> CloudSettings:
    try:
        return CloudSettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "settings"
        raise fail(f"invalid setting {field}: {first['msg']}") from exc


@contextmanager
def database(settings: CloudSettings) -> Iterator[CloudSettings]:
    """Resolved settings for the block; every data-layer failure becomes one clear line."""
    try:
        with resolved_database(settings) as resolved:
            yield resolved
    except DatabaseError as exc:
        raise fail(str(exc)) from exc


def guarded(action: Callable[[], T]) -> T:
    try:
        return action()
    except DatabaseError as exc:
        raise fail(str(exc)) from exc
    except psycopg.Error as exc:
        raise fail(f"database error: {exc.diag.message_primary or exc}") from exc


def ensure_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise fail(
                    f"port {port} on {host} is already in use: stop the other service or pass "
                    "--port"
                ) from exc
            raise fail(f"cannot listen on {host}:{port}: {exc.strerror}") from exc


def prepare_schema(settings: CloudSettings, *, embedded: bool) -> None:
    """Embedded: apply migrations. External: refuse to serve a database that is behind."""
    assert settings.database_url
    url = settings.database_url
    if embedded:
        report = guarded(lambda: migrations.migrate(url))
        if report.applied:
            typer.echo(f"applied {len(report.applied)} migration(s)")
        return
    todo = guarded(lambda: migrations.pending(url))
    if todo:
        raise fail(
            str(
                MigrationsPending(
                    f"{len(todo)} migration(s) pending (first: {todo[0].version}_{todo[0].name}): "
                    "run `jarvis-cloud db migrate` first"
                )
            )
        )


def run_server(settings: CloudSettings, host: str, port: int, workers: int = 1) -> None:
    import os

    import uvicorn

    from cloud_api.app import create_app

    ensure_port_free(host, port)
    typer.echo(f"JARVIS cloud on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info", access_log=False)
        return
    # Worker processes build their own app from the environment: hand them the resolved
    # database (the embedded server started here stays up while they run).
    assert settings.database_url
    assert settings.api_database_url
    os.environ["DATABASE_URL"] = settings.database_url
    os.environ["JARVIS_API_DATABASE_URL"] = settings.api_database_url
    os.environ["JARVIS_DATA_DIR"] = str(settings.data_dir)
    uvicorn.run(
        "cloud_api.asgi:app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
    )


HostOption = Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")]
PortOption = Annotated[int | None, typer.Option(help="Port to bind (default 8000).")]
WorkersOption = Annotated[
    int, typer.Option(min=1, max=64, help="Worker processes (one per core is a good start).")
]


@app.command()
def serve(host: HostOption = None, port: PortOption = None, workers: WorkersOption = 1) -> None:
    """Serve the API and dashboard."""
    settings = load_settings()
    with database(settings) as resolved:
        prepare_schema(resolved, embedded=settings.uses_embedded_database)
        run_server(resolved, host or settings.host, port or settings.port, workers)


@app.command()
def demo(
    host: HostOption = None,
    port: PortOption = None,
    kiosk: Annotated[
        bool, typer.Option(help="Also run a simulated kiosk that talks to JARVIS.")
    ] = True,
    simulator_port: Annotated[int, typer.Option(help="Port of the Realtime simulator.")] = 8100,
    badge_port: Annotated[
        int, typer.Option(help="Port of the demo kiosk's simulated badge reader.")
    ] = 8300,
) -> None:
    """Everything on the embedded default: database, demo data, API, Realtime simulator
    (unless OPENAI_API_KEY is set) and a simulated kiosk."""
    from pydantic import SecretStr

    from cloud_api import demo as demo_parts
    from cloud_api.seed.demo import DEMO_PASSWORD, seed_demo

    settings = load_settings()
    host, port = host or settings.host, port or settings.port
    ensure_port_free(host, port)
    with database(settings) as resolved:
        assert resolved.database_url
        url = resolved.database_url
        guarded(lambda: migrations.migrate(url))
        summary = guarded(lambda: seed_demo(url))
        typer.echo(summary.describe())
        typer.echo(f"demo accounts (password {DEMO_PASSWORD!r}): " + ", ".join(summary.logins))
        home = resolved.data_dir.resolve() / "demo"
        (home / "logs").mkdir(parents=True, exist_ok=True)
        processes = demo_parts.DemoProcesses(home / "logs")
        try:
            if resolved.openai_api_key is None:
                ensure_port_free("127.0.0.1", simulator_port)
                key, base = demo_parts.start_simulator(processes, simulator_port, typer.echo)
                resolved = resolved.model_copy(
                    update={"openai_api_key": SecretStr(key), "openai_base_url": base}
                )
            else:
                typer.echo("OPENAI_API_KEY is set: voice sessions use OpenAI (and cost money)")
            if kiosk:
                ensure_port_free("127.0.0.1", badge_port)
                demo_parts.launch_kiosk_when_ready(
                    processes,
                    home,
                    f"http://127.0.0.1:{port}",
                    lambda: _demo_kiosk_code(resolved),
                    _demo_badge(url),
                    badge_port,
                    typer.echo,
                )
            run_server(resolved, host, port)
        finally:
            processes.stop()


def _demo_badge(url: str) -> str:
    """A French-speaking member of the demo gym in good standing."""
    from cloud_api.demo import DEMO_GYM

    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select m.badge_id from gym_members m join gyms g on g.id = m.gym_id "
            "join member_preferences p on p.member_id = m.id "
            "where g.slug = %s and m.is_active and p.language = 'fr' "
            "and m.membership_expires_on > current_date + 60 order by m.badge_id limit 1",
            (DEMO_GYM,),
        ).fetchone()
    if row is None:
        raise fail("the demo gym has no member to tap: run `jarvis-cloud db seed --demo`")
    return str(row[0])


def _demo_kiosk_code(settings: CloudSettings) -> str:
    """A fresh code for the demo's kiosk (created the first time)."""
    import asyncio
    from datetime import timedelta

    from psycopg.rows import dict_row

    from cloud_api import kiosks
    from cloud_api.demo import DEMO_GYM
    from cloud_api.services import code_pepper

    assert settings.database_url
    url = settings.database_url

    async def issue() -> str:
        ttl = timedelta(minutes=settings.provisioning_code_ttl_min)
        pepper, actor = code_pepper(settings), kiosks.Actor("system")
        async with (
            await psycopg.AsyncConnection.connect(url, row_factory=dict_row) as conn,
            conn.transaction(),
        ):
            cur = await conn.execute(
                "select k.id from kiosks k join gyms g on g.id = k.gym_id "
                "where g.slug = %s and k.name = 'JARVIS Démo'",
                (DEMO_GYM,),
            )
            row = await cur.fetchone()
            if row is None:
                issued = await kiosks.create_kiosk(
                    conn,
                    gym_slug=DEMO_GYM,
                    name="JARVIS Démo",
                    location="Accueil",
                    pepper=pepper,
                    ttl=ttl,
                    actor=actor,
                )
            else:
                issued = await kiosks.regenerate_code(
                    conn, kiosk_id=row["id"], pepper=pepper, ttl=ttl, actor=actor
                )
            return issued.code

    return asyncio.run(issue())


@app.command()
def simulator(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8100,
    script: Annotated[
        Path | None, typer.Option(help="JSON conversation script (default: the demo's).")
    ] = None,
    voice: Annotated[str, typer.Option(help="auto, espeak or tone.")] = "auto",
    response_delay_ms: Annotated[
        int, typer.Option(min=0, help="Simulated model latency before each response (ms).")
    ] = 0,
    generation_speed: Annotated[
        float,
        typer.Option(min=0, help="Audio seconds generated per second (0: as fast as possible)."),
    ] = 0.0,
) -> None:
    """The project's OpenAI Realtime simulator (client secrets + GA WebSocket protocol).

    It accepts the organisation key in OPENAI_API_KEY; point the cloud at it with
    OPENAI_BASE_URL=http://HOST:PORT/v1."""
    from cloud_api.simulator.responses import Pacing
    from cloud_api.simulator.script import DEMO_SCRIPT, Script
    from cloud_api.simulator.server import run
    from cloud_api.simulator.voice import VoiceKind

    settings = load_settings()
    if settings.openai_api_key is None:
        raise fail("set OPENAI_API_KEY: the organisation key the simulator will accept")
    try:
        kind = VoiceKind(voice)
    except ValueError as exc:
        raise fail("--voice must be auto, espeak or tone") from exc
    try:
        loaded = Script.load(script) if script else DEMO_SCRIPT
    except (OSError, ValidationError) as exc:
        raise fail(f"cannot use the script {script}: {exc}") from exc
    ensure_port_free(host, port)
    run(
        host,
        port,
        api_key=settings.openai_api_key.get_secret_value(),
        script=loaded,
        voice=kind,
        pacing=Pacing(response_delay_ms=response_delay_ms, generation_speed=generation_speed),
    )


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

            summary = guarded(lambda: seed_demo(url))
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


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
