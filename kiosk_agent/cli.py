"""``jarvis-kiosk``: provision, run, doctor, status. Each command is a few lines over the
library; the library's errors become messages for the installer here and only here.

Exit codes: 0 done; 1 failed (the message says why and what to do); 2 wrong usage or
settings.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from kiosk_agent import __version__
from kiosk_agent.adapters.cloud_errors import (
    ClaimRefused,
    CloudError,
    CloudUnavailable,
    CloudUnreachable,
    CodeExpired,
    CodeInvalid,
    CodeUsed,
    NotJarvisCloud,
    RateLimited,
)
from kiosk_agent.adapters.identity import IdentityError, load_identity
from kiosk_agent.config import LoadedSettings, SettingsError, load_settings
from provisioning.code import InvalidCode, display_code, normalize_code

app = typer.Typer(
    name="jarvis-kiosk",
    help="The JARVIS kiosk agent: provision this kiosk, run it, check it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

USAGE = 2
FAILED = 1
CODE_ATTEMPTS = 3


def _loaded(ctx: typer.Context) -> LoadedSettings:
    loaded = ctx.obj
    assert isinstance(loaded, LoadedSettings)
    return loaded


def _fail(message: str, code: int = FAILED) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _setup_logging(level: str) -> None:
    # Under systemd the journal stamps each line; elsewhere add the time.
    stamp = "" if os.environ.get("JOURNAL_STREAM") else "%(asctime)s "
    logging.basicConfig(
        level=level, format=f"{stamp}%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    # httpx logs every request at INFO: too chatty for a kiosk (and never useful unasked).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"jarvis-kiosk {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_callback(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Settings come from /etc/jarvis-kiosk/kiosk.env (or $JARVIS_KIOSK_CONFIG) and
    JARVIS_KIOSK_* environment variables; see docs/KIOSK.md."""
    try:
        loaded = load_settings()
    except SettingsError as exc:
        raise _fail(str(exc), USAGE) from exc
    _setup_logging(loaded.settings.log.level)
    for warning in loaded.warnings:
        logging.getLogger("kiosk_agent.config").warning("%s", warning)
    ctx.obj = loaded


# -- provision ------------------------------------------------------------------------------


def _claim_message(exc: CloudError, code: str, url: str) -> str:
    shown = display_code(code)
    if isinstance(exc, CodeInvalid):
        return (
            f"the code {shown} is not valid at {url}: check it against the manager's screen "
            "and type it again (codes use digits and letters without I, L, O or U)"
        )
    if isinstance(exc, CodeExpired):
        return f"the code {shown} has expired: ask the gym's manager for a new code"
    if isinstance(exc, CodeUsed):
        return (
            f"the code {shown} has already been used to set up a kiosk; each code works once: "
            "ask the gym's manager for a new code"
        )
    if isinstance(exc, RateLimited):
        wait = int(exc.retry_after_s or 0) + 1
        until = (datetime.now() + timedelta(seconds=wait)).strftime("%H:%M:%S")
        return (
            f"too many provisioning attempts: the cloud asks to wait {wait} s; try again after "
            f"{until}"
        )
    if isinstance(exc, CloudUnreachable):
        return f"no network or no cloud: {exc}"
    if isinstance(exc, NotJarvisCloud):
        return f"{url} is not a JARVIS cloud: {exc}"
    if isinstance(exc, CloudUnavailable):
        return f"the cloud is having trouble: {exc}; try again in a few minutes"
    if isinstance(exc, ClaimRefused):
        return f"the cloud refused the code {shown}: {exc}"
    return str(exc)


@app.command()
def provision(
    ctx: typer.Context,
    cloud_url: Annotated[
        str | None,
        typer.Option(
            "--cloud-url",
            help="The JARVIS cloud's address. Default: JARVIS_KIOSK_CLOUD__URL, else asked.",
        ),
    ] = None,
    code: Annotated[
        str | None,
        typer.Option(
            "--code",
            help="The six-character code from the gym's manager, in any case, with or without "
            "spaces or dashes. Given: nothing is asked.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Provision again a kiosk that already is.")
    ] = False,
) -> None:
    """Bind this kiosk to its gym with the code from the gym's manager."""
    from kiosk_agent.provision import ProvisionError, normalize_cloud_url
    from kiosk_agent.provision import provision as claim

    settings = _loaded(ctx).settings
    interactive = code is None and sys.stdin.isatty()
    try:
        existing = load_identity(settings.identity_path)
    except IdentityError:
        existing = None
    except OSError as exc:
        raise _fail(f"cannot read {settings.identity_path}: {exc}") from exc
    if existing is not None and not force:
        typer.echo(
            f"This kiosk is already provisioned: {existing.describe()}, at "
            f"{existing.cloud_url}.\nTo provision it again (another gym or kiosk), run "
            "`jarvis-kiosk provision --force` with a new code."
            + ("" if code is None else " The code given was not used.")
        )
        return
    url_text = cloud_url or settings.cloud.url
    if url_text is None:
        if not sys.stdin.isatty():
            raise _fail(
                "no cloud URL: pass --cloud-url https://... or set JARVIS_KIOSK_CLOUD__URL", USAGE
            )
        url_text = typer.prompt("JARVIS cloud URL (e.g. https://jarvis.example.com)")
    try:
        url = normalize_cloud_url(url_text)
    except ProvisionError as exc:
        raise _fail(str(exc), USAGE) from exc
    for attempt in range(1, CODE_ATTEMPTS + 1):
        typed = code if code is not None else typer.prompt("Provisioning code (e.g. AB3-X9K)")
        try:
            normalized = normalize_code(typed)
        except InvalidCode as exc:
            message = f"that is not a provisioning code: {exc} (a code looks like AB3-X9K)"
            if interactive and attempt < CODE_ATTEMPTS:
                typer.echo(message, err=True)
                continue
            raise _fail(message, USAGE) from exc
        typer.echo(f"Claiming {display_code(normalized)} at {url} ...")
        try:
            done = asyncio.run(claim(settings, url, normalized))
        except CodeInvalid as exc:
            message = _claim_message(exc, normalized, url)
            if interactive and attempt < CODE_ATTEMPTS:
                typer.echo(f"error: {message}", err=True)
                continue
            raise _fail(message) from exc
        except CloudError as exc:
            raise _fail(_claim_message(exc, normalized, url)) from exc
        except ProvisionError as exc:
            raise _fail(str(exc)) from exc
        identity = done.identity
        typer.echo(
            f"Provisioned: this is {identity.describe()}.\n"
            f"Credential saved to {settings.identity_path} (mode 0600).\n"
            "Start the agent with `sudo systemctl enable --now jarvis-kiosk` (a running agent "
            "picks this up within seconds)."
        )
        return
    raise _fail("no valid code after three attempts", USAGE)


# -- run ------------------------------------------------------------------------------------


@app.command()
def run(ctx: typer.Context) -> None:
    """Run the agent (what systemd starts): badges, sessions, heartbeats, outbox."""
    from kiosk_agent.app import KioskAgent

    settings = _loaded(ctx).settings
    try:
        settings.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise _fail(
            f"cannot create the state folder {settings.state_dir}: {exc.strerror}; on a kiosk "
            "install with systemd/install.sh, in development set "
            "JARVIS_KIOSK_STATE_DIR=./.jarvis/kiosk",
            USAGE,
        ) from exc
    logging.getLogger(__name__).info(
        "jarvis-kiosk %s starting; state in %s", __version__, settings.state_dir
    )
    raise typer.Exit(asyncio.run(KioskAgent(settings).run()))


# -- doctor ---------------------------------------------------------------------------------


@app.command()
def doctor(
    ctx: typer.Context,
    skip_audio: Annotated[
        bool, typer.Option("--skip-audio", help="Do not open the microphone and speaker.")
    ] = False,
    skip_reader: Annotated[
        bool, typer.Option("--skip-reader", help="Do not open the badge reader.")
    ] = False,
    tap: Annotated[
        float,
        typer.Option(
            "--tap",
            metavar="SECONDS",
            help="Wait this long for a badge to be tapped, to prove the reader reads.",
        ),
    ] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check the microphone, speaker, badge reader, pcscd, network, cloud, credential,
    clock and disk, and say what to fix. Exits 1 if any check fails."""
    from kiosk_agent.checks import Check, Verdict, render_check
    from kiosk_agent.doctor import Doctor, DoctorOptions

    options = DoctorOptions(audio=not skip_audio, reader=not skip_reader, badge_wait_s=tap)
    doctor_ = Doctor(_loaded(ctx), options)

    def report(check: Check) -> None:
        if not as_json:
            typer.echo(render_check(check))

    checks = asyncio.run(doctor_.run(report))
    failed = [c for c in checks if c.verdict is Verdict.FAIL]
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "name": c.name,
                        "verdict": c.verdict.value,
                        "finding": c.finding,
                        "advice": c.advice,
                    }
                    for c in checks
                ],
                indent=2,
            )
        )
    else:
        warned = sum(c.verdict is Verdict.WARN for c in checks)
        typer.echo(
            f"\n{len(checks)} checks: {len(failed)} failed, {warned} warned"
            + ("" if failed else "; this kiosk is ready")
        )
    raise typer.Exit(FAILED if failed else 0)


# -- status ---------------------------------------------------------------------------------


@app.command()
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Show the agent's state, last heartbeat, outbox depth and last error."""
    from kiosk_agent.status import read_status, render_status

    report = read_status(_loaded(ctx).settings)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        typer.echo(render_status(report, datetime.now(UTC)))


def main() -> None:
    app()
