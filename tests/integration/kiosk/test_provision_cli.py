"""`jarvis-kiosk provision` end to end against a real cloud on 127.0.0.1."""

from __future__ import annotations

import contextlib
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hardware.sysinfo import device_id
from kiosk_agent.adapters.store_open import open_readonly
from kiosk_agent.config import StoreSection
from tests.cloud_server import CloudServer
from tests.conftest import PostgresServer
from tests.integration.kiosk.kiosk_home import KioskHome, cloud_with, free_port


@pytest.fixture
def home(tmp_path: Path) -> KioskHome:
    return KioskHome(tmp_path / "kiosk")


def test_a_code_typed_in_lower_case_with_dashes_provisions_the_kiosk(
    cloud: CloudServer, home: KioskHome
) -> None:
    code = cloud.create_kiosk("gym-a", "Entrée principale")
    typed = f" {code[:3].lower()}-{code[3:].lower()} "
    result = home.cli("provision", "--cloud-url", cloud.base_url, "--code", typed)
    assert result.returncode == 0, result.stderr
    assert "Provisioned: this is kiosk 'Entrée principale'" in result.stdout
    assert "'Gym A' (gym-a)" in result.stdout
    path = home.state_dir / "credential.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    identity = home.identity()
    assert identity is not None
    secret = identity.credential.get_secret_value()
    assert secret not in result.stdout + result.stderr  # shown to nobody
    assert identity.cloud_url == cloud.base_url
    row = cloud.sql(
        "select device_id, hardware_info, software_version, provisioned_at from kiosks "
        "where id = %s",
        (identity.kiosk_id,),
    )[0]
    assert row["device_id"] == device_id().value == identity.device_id
    assert row["hardware_info"]["model"]
    assert row["provisioned_at"] is not None
    store = open_readonly(home.state_dir / "kiosk.db", StoreSection())
    try:
        config = store.desired_config()
    finally:
        store.close()
    assert config is not None
    assert config.language == "fr"  # the cloud's config is kept for the agent


def test_provisioning_again_says_so_and_force_needs_a_new_code(
    cloud: CloudServer, home: KioskHome
) -> None:
    first = home.provision(cloud.base_url, cloud.create_kiosk("gym-a", "Vestiaire"))
    unused = cloud.create_kiosk("gym-b", "Accueil")
    again = home.cli("provision", "--cloud-url", cloud.base_url, "--code", unused)
    assert again.returncode == 0
    assert "already provisioned: kiosk 'Vestiaire'" in again.stdout
    assert "The code given was not used" in again.stdout
    assert home.identity() == first
    assert (
        cloud.sql("select provisioning_code_used_at from kiosks where name = 'Accueil'")[0][
            "provisioning_code_used_at"
        ]
        is None
    )
    moved = home.cli("provision", "--cloud-url", cloud.base_url, "--code", unused, "--force")
    assert moved.returncode == 0, moved.stderr
    identity = home.identity()
    assert identity is not None
    assert (identity.gym_slug, identity.kiosk_name) == ("gym-b", "Accueil")


def test_wrong_used_and_expired_codes_get_their_own_message(
    cloud: CloudServer, home: KioskHome, tmp_path: Path
) -> None:
    wrong = home.cli("provision", "--cloud-url", cloud.base_url, "--code", "ZZZ-ZZZ")
    assert wrong.returncode == 1
    assert "the code ZZZ-ZZZ is not valid at" in wrong.stderr
    assert "check it against the manager's screen" in wrong.stderr
    assert home.identity() is None

    code = cloud.create_kiosk("gym-a", "Sortie")
    KioskHome(tmp_path / "other").provision(cloud.base_url, code)
    used = home.cli("provision", "--cloud-url", cloud.base_url, "--code", code)
    assert used.returncode == 1
    assert "has already been used to set up a kiosk" in used.stderr

    stale = cloud.create_kiosk("gym-a", "Terrasse")
    cloud.sql(
        "update kiosks set provisioning_code_expires_at = now() - interval '1 minute' "
        "where name = 'Terrasse'"
    )
    expired = home.cli("provision", "--cloud-url", cloud.base_url, "--code", stale)
    assert expired.returncode == 1
    assert "has expired: ask the gym's manager for a new code" in expired.stderr


def test_a_code_that_cannot_be_one_is_refused_before_asking_the_cloud(home: KioskHome) -> None:
    result = home.cli("provision", "--cloud-url", "http://127.0.0.1:9", "--code", "AB3")
    assert result.returncode == 2
    assert "not a provisioning code: a provisioning code has 6 characters" in result.stderr


def test_the_code_can_be_typed_at_the_prompt(cloud: CloudServer, home: KioskHome) -> None:
    code = cloud.create_kiosk("gym-c", "Prompt")
    result = home.cli("provision", "--cloud-url", cloud.base_url, input=f"{code.lower()}\n")
    assert result.returncode == 0, result.stderr
    assert "Provisioning code" in result.stdout
    assert home.identity() is not None


def test_no_network_and_not_a_jarvis_cloud_are_told_apart(home: KioskHome) -> None:
    closed = home.cli(
        "provision", "--cloud-url", f"http://127.0.0.1:{free_port()}", "--code", "AB3X9K"
    )
    assert closed.returncode == 1
    assert "no network or no cloud: nothing answers at" in closed.stderr
    unknown = home.cli("provision", "--cloud-url", "http://jarvis.invalid", "--code", "AB3X9K")
    assert unknown.returncode == 1
    assert "cannot resolve jarvis.invalid" in unknown.stderr
    with html_server() as url:
        other = home.cli("provision", "--cloud-url", url, "--code", "AB3X9K")
    assert other.returncode == 1
    assert f"{url} is not a JARVIS cloud" in other.stderr
    assert "check the URL" in other.stderr
    assert home.identity() is None


def test_no_cloud_url_outside_a_terminal_is_a_usage_error(home: KioskHome) -> None:
    result = home.cli("provision", "--code", "AB3X9K")
    assert result.returncode == 2
    assert "no cloud URL: pass --cloud-url" in result.stderr


@pytest.fixture(scope="module")
def strict_cloud(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CloudServer]:
    """A cloud whose claim limits are low enough to reach in a test."""
    folder = tmp_path_factory.mktemp("strict-cloud")
    with cloud_with(postgres, folder, "gym-s", claim_max_failures_per_source=2) as server:
        yield server


def test_rate_limiting_says_how_long_to_wait(strict_cloud: CloudServer, home: KioskHome) -> None:
    good = strict_cloud.create_kiosk("gym-s", "Limited")
    for _ in range(2):
        home.cli("provision", "--cloud-url", strict_cloud.base_url, "--code", "ZZZZZZ")
    limited = home.cli("provision", "--cloud-url", strict_cloud.base_url, "--code", good)
    assert limited.returncode == 1
    assert "too many provisioning attempts: the cloud asks to wait" in limited.stderr
    assert "try again after" in limited.stderr
    assert home.identity() is None


class _Html(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body>Welcome to nginx!</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def html_server() -> Iterator[str]:
    """A web server that is not a JARVIS cloud (a default nginx page)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Html)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
