"""Serving: `serve`, `demo` and `simulator`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from cloud_api.cli.common import (
    admin_work,
    database,
    ensure_port_free,
    fail,
    guarded,
    load_settings,
)
from cloud_api.config import CloudSettings
from cloud_api.db import migrate as migrations
from cloud_api.db.database import Conn
from cloud_api.db.errors import MigrationsPending
from cloud_api.supervisor import Supervisor


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


KEEP_ALIVE_S = 75
"""Seconds an idle client connection stays open: longer than a kiosk's heartbeat interval and
its own keep-alive (60 s), so the voice start at a tap reuses the connection instead of paying
new TCP and TLS handshakes (two round trips; uvicorn's default is 5 s)."""


def run_server(settings: CloudSettings, host: str, port: int, workers: int = 1) -> None:
    import os

    import uvicorn

    from cloud_api.app import create_app

    typer.echo(f"JARVIS cloud on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    if workers == 1:
        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            log_level="info",
            access_log=False,
            timeout_keep_alive=KEEP_ALIVE_S,
        )
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
        timeout_keep_alive=KEEP_ALIVE_S,
    )


HostOption = Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")]
PortOption = Annotated[int | None, typer.Option(help="Port to bind (default 8000).")]
WorkersOption = Annotated[
    int, typer.Option(min=1, max=64, help="Worker processes (one per core is a good start).")
]


def serve(host: HostOption = None, port: PortOption = None, workers: WorkersOption = 1) -> None:
    """Serve the cloud API (OpenAPI docs at /docs)."""
    settings = load_settings()
    host, port = host or settings.host, port or settings.port
    ensure_port_free(host, port)  # before anything starts
    with Supervisor() as supervisor:
        resolved = supervisor.enter(database(settings))
        prepare_schema(resolved, embedded=settings.uses_embedded_database)
        run_server(resolved, host, port, workers)


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
    screen_port: Annotated[int, typer.Option(help="Port of the demo kiosk's screen page.")] = 8610,
) -> None:
    """Everything on the embedded default: database, demo data (derived by the pipeline),
    API, a job worker, a local mailbox for alert emails, the Realtime simulator (unless
    OPENAI_API_KEY is set) and a simulated kiosk."""
    from pydantic import SecretStr

    from cloud_api import demo as demo_parts
    from cloud_api.seed.demo import ACCOUNTS as DEMO_ACCOUNTS
    from cloud_api.seed.demo import DEMO_PASSWORD, seed_demo

    settings = load_settings()
    host, port = host or settings.host, port or settings.port
    # Every port is checked before anything starts: a port in use leaves nothing behind.
    ensure_port_free(host, port)
    if settings.openai_api_key is None:
        ensure_port_free("127.0.0.1", simulator_port)
    if kiosk:
        ensure_port_free("127.0.0.1", badge_port)
        ensure_port_free("127.0.0.1", screen_port)
    home = settings.data_dir.resolve() / "demo"
    (home / "logs").mkdir(parents=True, exist_ok=True)
    with Supervisor(home / "logs") as supervisor:
        resolved = supervisor.enter(database(settings))
        assert resolved.database_url
        url = resolved.database_url
        guarded(lambda: migrations.migrate(url))
        worker_url = resolved.worker_database_url
        typer.echo("seeding the demo and deriving its analytics with the pipeline's jobs…")
        summary = guarded(lambda: seed_demo(url, worker_url=worker_url))
        typer.echo(summary.describe())
        typer.echo(
            demo_parts.dashboard_banner(
                f"http://{host}:{port}",
                [(email, role, gym) for email, _, role, gym in DEMO_ACCOUNTS],
                DEMO_PASSWORD,
                _demo_admin_factor(resolved),
            )
        )
        mailbox = demo_parts.start_mailbox(home / "mail", typer.echo)
        supervisor.callback(mailbox.stop)
        if resolved.openai_api_key is None:
            key, base = demo_parts.start_simulator(supervisor, simulator_port, typer.echo)
            resolved = resolved.model_copy(
                update={"openai_api_key": SecretStr(key), "openai_base_url": base}
            )
        else:
            typer.echo("OPENAI_API_KEY is set: voice sessions use OpenAI (and cost money)")
        demo_parts.start_worker(
            supervisor, resolved, mailbox.port, f"http://{host}:{port}", typer.echo
        )
        if kiosk:
            demo_parts.launch_kiosk_when_ready(
                supervisor,
                home,
                f"http://127.0.0.1:{port}",
                lambda: _demo_kiosk_code(resolved),
                _demo_badges(resolved),
                badge_port,
                typer.echo,
                screen_port=screen_port,
            )
        run_server(resolved, host, port)


def _demo_admin_factor(settings: CloudSettings) -> str | None:
    """The demo super admin's second factor (enrolled the first time): its base32 key."""
    from cloud_api.auth.totp import new_secret
    from cloud_api.data import local_auth
    from cloud_api.seed.demo import ACCOUNTS
    from cloud_api.services import totp_sealer

    admin = next((email for email, _, role, _ in ACCOUNTS if role == "super_admin"), None)
    if admin is None or settings.supabase_url:
        return None
    sealer = totp_sealer(settings)

    async def enrol(conn: Conn) -> str | None:
        sealed = await local_auth.factor_of(conn, admin)
        if sealed is not None:
            return sealer.unseal(sealed)
        secret = new_secret()
        return secret if await local_auth.give_factor(conn, admin, sealer.seal(secret)) else None

    return admin_work(settings, enrol)


def _demo_badges(settings: CloudSettings) -> list[str]:
    """French-speaking members of the demo gym for its three conversations."""
    from cloud_api.data.members import demo_badges
    from cloud_api.demo import DEMO_GYM

    badges = admin_work(settings, lambda conn: demo_badges(conn, DEMO_GYM, "fr"))
    if not badges:
        raise fail("the demo gym has no member to tap: run `jarvis-cloud db seed --demo`")
    return badges


def _demo_kiosk_code(settings: CloudSettings) -> str:
    """A fresh code for the demo's kiosk (created the first time)."""
    from datetime import timedelta

    from cloud_api.data import kiosks
    from cloud_api.data.audit import SYSTEM
    from cloud_api.demo import DEMO_GYM
    from cloud_api.services import code_pepper

    ttl = timedelta(minutes=settings.provisioning_code_ttl_min)
    pepper = code_pepper(settings)
    name = "JARVIS Démo"

    async def issue(conn: Conn) -> kiosks.IssuedCode:
        kiosk_id = await kiosks.kiosk_named(conn, gym_slug=DEMO_GYM, name=name)
        if kiosk_id is None:
            return await kiosks.create_kiosk(
                conn,
                gym_slug=DEMO_GYM,
                name=name,
                location="Accueil",
                pepper=pepper,
                ttl=ttl,
                actor=SYSTEM,
            )
        return await kiosks.regenerate_code(
            conn, kiosk_id=kiosk_id, pepper=pepper, ttl=ttl, actor=SYSTEM
        )

    return admin_work(settings, issue).code


def simulator(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8100,
    script: Annotated[
        Path | None, typer.Option(help="JSON conversation script (default: the demo's).")
    ] = None,
    voice: Annotated[str, typer.Option(help="auto, espeak or tone.")] = "auto",
    response_delay_ms: Annotated[
        int, typer.Option(min=0, help="The model's time to first audio, per response (ms).")
    ] = 0,
    generation_speed: Annotated[
        float,
        typer.Option(min=0, help="Audio seconds generated per second (0: as fast as possible)."),
    ] = 0.0,
    rtt_ms: Annotated[
        float,
        typer.Option(
            min=0, help="Network round trip to the simulator (ms; new connections pay 2 more)."
        ),
    ] = 0.0,
    demo_conversations: Annotated[
        bool,
        typer.Option(
            "--demo-conversations",
            help="Play the demo's conversations in turn, one per session (classes and a broken "
            "treadmill, then an unhappy member) instead of one script.",
        ),
    ] = False,
) -> None:
    """The project's OpenAI Realtime simulator (client secrets + GA WebSocket protocol).

    It accepts the organisation key in OPENAI_API_KEY; point the cloud at it with
    OPENAI_BASE_URL=http://HOST:PORT/v1."""
    from simulator.responses import Pacing
    from simulator.script import DEMO_CONVERSATIONS, DEMO_SCRIPT, Script
    from simulator.server import run
    from simulator.voice import VoiceKind

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
        more_scripts=DEMO_CONVERSATIONS[1:] if demo_conversations and not script else (),
        voice=kind,
        pacing=Pacing(response_delay_ms=response_delay_ms, generation_speed=generation_speed),
        network_rtt_ms=rtt_ms,
    )
