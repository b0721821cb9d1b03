"""`jarvis-cloud demo`: the whole product on one machine, around the cloud API.

Besides the API (served by the CLI), the demo runs:

* the project's OpenAI Realtime simulator, unless OPENAI_API_KEY is set (then the real
  OpenAI is used: sessions cost money);
* a job worker (`jarvis-cloud worker`): every session the kiosk uploads is analysed within
  seconds (summary, sentiment, analytics, churn, alerts), and alert emails go to
* a local mailbox: an SMTP server on 127.0.0.1 writing each email to
  `<data_dir>/demo/mail/*.eml` (open them with any mail client or a text editor);
* a simulated kiosk: a real `jarvis-kiosk` process, provisioned with a real six-character
  code for Atlas Bordeaux Centre, whose badge reader listens on a local HTTP port and whose
  microphone is a WAV file of a member speaking (espeak-ng when installed, tone bursts
  otherwise). Once it is up, the demo taps two members' badges one after the other: one asks
  about classes and reports a broken treadmill, the other sounds unhappy and thinks of
  leaving. Its screen is served on http://127.0.0.1:8610/ (with a "simulate badge" control).

Everything lives under `<data_dir>/demo/` and stops with the demo: one `Supervisor` owns every
process it starts (and the embedded Postgres), whatever ends the demo.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Callable
from pathlib import Path

import httpx

from cloud_api.config import CloudSettings
from cloud_api.delivery.mailbox import LocalMailbox
from cloud_api.supervisor import Stopping, Supervisor

DEMO_GYM = "atlas-bordeaux-centre"
DEMO_SCREEN_PORT = 8610
"""Where the demo kiosk serves its screen by default (docs/KIOSK.md, "Screen")."""
WAV_RATE = 22_050
# What the member says, with room for JARVIS to answer in between (seconds of silence first).
MEMBER_LINES = (
    (5.0, "Quels sont mes cours cette semaine ?"),
    (11.0, "Et la salle ferme à quelle heure ce soir ?"),
    (
        8.0,
        "Par contre, le tapis de course numéro trois est encore en panne. C'est vraiment pénible, j'en ai marre.",  # noqa: E501
    ),
    (8.0, "Au revoir."),
)


def cli(module: str) -> list[str]:
    return [sys.executable, "-c", f"from {module} import main; main()"]


def start_simulator(
    supervisor: Supervisor, port: int, say: Callable[[str], None]
) -> tuple[str, str]:
    """Start the Realtime simulator; return (org key it accepts, OpenAI base URL)."""
    key = "sk-demo-" + secrets.token_hex(16)
    env = {**os.environ, "OPENAI_API_KEY": key}
    supervisor.start(
        "simulator",
        [*cli("cloud_api.cli"), "simulator", "--port", str(port), "--demo-conversations"],
        env,
    )
    base = f"http://127.0.0.1:{port}/v1"
    say(f"Realtime simulator on {base} (logs: {supervisor.log_dir}/simulator.log)")
    return key, base


def member_wav(path: Path) -> Path:
    """A WAV of the demo member speaking the simulator's script, with pauses."""
    chunks: list[bytes] = []
    espeak = shutil.which("espeak-ng")
    for pause_s, line in MEMBER_LINES:
        chunks.append(b"\0\0" * int(pause_s * WAV_RATE))
        chunks.append(_spoken(line) if espeak else _tone_burst(1.5))
    chunks.append(b"\0\0" * int(6 * WAV_RATE))
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(WAV_RATE)
        out.writeframes(b"".join(chunks))
    return path


def _spoken(text: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "line.wav"
        subprocess.run(
            ["espeak-ng", "-v", "fr", "-w", str(target), text], check=True, capture_output=True
        )
        with wave.open(str(target), "rb") as spoken:
            if spoken.getframerate() != WAV_RATE or spoken.getnchannels() != 1:
                return _tone_burst(1.5)
            return spoken.readframes(spoken.getnframes())


def _tone_burst(seconds: float) -> bytes:
    count = int(seconds * WAV_RATE)
    return b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 220 * i / WAV_RATE)))
        for i in range(count)
    )


def kiosk_env(
    home: Path, cloud_url: str, badge_port: int, screen_port: int = DEMO_SCREEN_PORT
) -> dict[str, str]:
    """The simulated kiosk's configuration, written where an installer would put it."""
    config = home / "kiosk.env"
    config.write_text(
        "\n".join(
            [
                "# The demo's simulated kiosk (written by jarvis-cloud demo).",
                f"JARVIS_KIOSK_CLOUD__URL={cloud_url}",
                "JARVIS_KIOSK_BADGE__KIND=simulated",
                "JARVIS_KIOSK_BADGE__SIMULATED__STDIN=false",
                f"JARVIS_KIOSK_BADGE__SIMULATED__HTTP_PORT={badge_port}",
                "JARVIS_KIOSK_AUDIO__BACKEND=file",
                f"JARVIS_KIOSK_AUDIO__INPUT_WAV={member_wav(home / 'member.wav')}",
                f"JARVIS_KIOSK_AUDIO__OUTPUT_WAV={home / 'jarvis-said.wav'}",
                "JARVIS_KIOSK_AUDIO__FILE_LOOP=true",
                "JARVIS_KIOSK_ANNOUNCE__SPEAK=false",
                f"JARVIS_KIOSK_SCREEN__PORT={screen_port}",
                "JARVIS_KIOSK_SCREEN__SIMULATE_BADGE=true",
                "",
            ]
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("JARVIS_KIOSK_")}
    env.update({"JARVIS_KIOSK_CONFIG": str(config), "JARVIS_KIOSK_STATE_DIR": str(home / "state")})
    return env


def run_kiosk(
    supervisor: Supervisor,
    home: Path,
    cloud_url: str,
    code: str,
    badges: list[str],
    badge_port: int,
    say: Callable[[str], None],
    screen_port: int = DEMO_SCREEN_PORT,
) -> None:
    """Provision the simulated kiosk with `code`, run it, and tap `badges` one after the
    other, each once the previous conversation has ended (the simulator plays the demo's
    conversations in the same order: classes and a broken treadmill, an unhappy member)."""
    env = kiosk_env(home, cloud_url, badge_port, screen_port)
    status, output = supervisor.run(
        "kiosk-provision",
        [*cli("kiosk_agent.cli"), "provision", "--code", code, "--force"],
        env,
        timeout=120,
    )
    if status != 0:
        say(f"the demo kiosk could not be provisioned: {output.strip()}")
        return
    say(f"demo kiosk provisioned with code {code} (config: {home / 'kiosk.env'})")
    supervisor.start("kiosk", [*cli("kiosk_agent.cli"), "run"], env)
    log = Path(supervisor.log_dir or home) / "kiosk.log"
    tap = f"http://127.0.0.1:{badge_port}/badge"
    for number, badge in enumerate(badges):
        if number and not _wait_for(supervisor, log, number, timeout_s=180):
            if not supervisor.stopping:
                say(f"conversation {number} did not end in time; see {log}")
            return
        if not _tap(supervisor, tap, badge):
            if not supervisor.stopping:
                say(f"the demo kiosk's badge reader did not come up; see {log}")
            return
        say(
            f"tapped badge {badge} on the demo kiosk: JARVIS is talking "
            f"(conversation {number + 1} of {len(badges)}; kiosk log: {log})"
        )
    say(f"tap another: curl -d <badge id> {tap}")


def _conversations_ended(log: Path) -> int:
    try:
        return log.read_text(errors="replace").count("ended (")
    except FileNotFoundError:
        return 0


def _wait_for(supervisor: Supervisor, log: Path, conversations: int, *, timeout_s: float) -> bool:
    """Until the kiosk's log says `conversations` conversations have ended (False: timed out,
    or the demo is stopping)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not supervisor.stopping:
        if _conversations_ended(log) >= conversations:
            return True
        time.sleep(0.5)
    return False


def _tap(supervisor: Supervisor, url: str, badge: str) -> bool:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not supervisor.stopping:
        try:
            httpx.post(url, content=badge, timeout=5).raise_for_status()
            return True
        except httpx.HTTPError:
            time.sleep(0.5)
    return False


def launch_kiosk_when_ready(
    supervisor: Supervisor,
    home: Path,
    cloud_url: str,
    issue_code: Callable[[], str],
    badges: list[str],
    badge_port: int,
    say: Callable[[str], None],
    *,
    screen_port: int = DEMO_SCREEN_PORT,
) -> threading.Thread:
    """In the background: wait for the API, then provision and run the demo kiosk (unless
    the demo is stopping by then)."""

    def launch() -> None:
        say(
            f"the demo kiosk's screen: http://127.0.0.1:{screen_port}/ (open it in a "
            "browser; its 'simulate badge' control taps a badge)"
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not supervisor.stopping:
            try:
                if httpx.get(f"{cloud_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            if not supervisor.stopping:
                say("the API did not come up; the demo kiosk was not started")
            return
        with contextlib.suppress(Stopping):
            run_kiosk(
                supervisor, home, cloud_url, issue_code(), badges, badge_port, say, screen_port
            )

    thread = threading.Thread(target=launch, name="demo-kiosk", daemon=True)
    thread.start()
    return thread


ROLE_WORDS = {
    "super_admin": "super admin",
    "franchise_owner": "franchise owner",
    "gym_manager": "gym manager",
    "gym_staff": "gym staff",
}


def dashboard_banner(
    url: str,
    accounts: list[tuple[str, str, str | None]],
    password: str,
    admin_secret: str | None,
) -> str:
    """What `jarvis-cloud demo` prints: where the dashboard is and who can sign in.

    `accounts`: (email, role, gym slug or None)."""
    lines = [
        "",
        f"Dashboard: {url}/  — sign in with any account below, password {password!r}",
    ]
    for email, role, gym in accounts:
        where = f" ({gym})" if gym else ""
        lines.append(f"  {ROLE_WORDS.get(role, role):<16} {email}{where}")
        if role == "super_admin" and admin_secret:
            lines.append(
                f"  {'':<16} second factor: add the key {admin_secret} to an authenticator "
                f"app, or type the code printed by `jarvis-cloud users mfa-code --email {email}`"
            )
    lines.append(
        f"The demo kiosk's conversations land at {url}/dashboard/sessions (sign in as "
        "the Bordeaux manager); the treadmill alert at /dashboard/alerts."
    )
    lines.append("")
    return "\n".join(lines)


def start_mailbox(folder: Path, say: Callable[[str], None]) -> LocalMailbox:
    """The demo's local mailbox: alert emails land in `folder` as .eml files."""
    mailbox = LocalMailbox(folder)
    mailbox.start()
    say(f"alert emails: {folder}/*.eml (local SMTP on 127.0.0.1:{mailbox.port})")
    return mailbox


def start_worker(
    supervisor: Supervisor,
    settings: CloudSettings,
    smtp_port: int,
    dashboard_url: str,
    say: Callable[[str], None],
) -> None:
    """A job worker on the demo's database, mailing alerts to the local mailbox."""
    assert settings.database_url
    assert settings.worker_database_url
    env = {k: v for k, v in os.environ.items() if not k.startswith("JARVIS_")}
    env.update(
        {
            "DATABASE_URL": settings.database_url,
            "JARVIS_WORKER_DATABASE_URL": settings.worker_database_url,
            "JARVIS_DATA_DIR": str(settings.data_dir),
            "JARVIS_SMTP_HOST": "127.0.0.1",
            "JARVIS_SMTP_PORT": str(smtp_port),
            "JARVIS_SMTP_STARTTLS": "false",
            "JARVIS_SMTP_FROM": "JARVIS Démo <jarvis@atlas.demo>",
            "JARVIS_DASHBOARD_URL": dashboard_url,
            # The Realtime simulator answers no analysis: analyse locally unless a real key
            # is configured (then OpenAI analyses, and it costs money).
            "JARVIS_ANALYSIS_BACKEND": "auto" if os.environ.get("OPENAI_API_KEY") else "local",
        }
    )
    supervisor.start("worker", [*cli("cloud_api.cli"), "worker", "--name", "demo-worker"], env)
    say(f"job worker running (log: {supervisor.log_dir}/worker.log)")
