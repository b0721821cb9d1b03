"""The kiosk's systemd unit passes `systemd-analyze verify`, and says what the issue asks.

`systemd-analyze verify` checks a unit against the system it runs on: the ExecStart binary
must exist and the units it orders itself after must be known. This container has no
/opt/jarvis-kiosk and no systemd running, so the check runs against a small root folder made
here: the host's own unit library, the unit under test in /etc/systemd/system, and an
executable where ExecStart expects the agent. `--man=no` because no man pages are installed.
systemd-analyze only warns (exit code 0) about unknown keys or bad values, so any line it
prints about the unit fails the test too.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[3] / "systemd"
SYSTEM_UNITS = Path("/usr/lib/systemd/system")


EXECUTABLES = ("opt/jarvis-kiosk/venv/bin/jarvis-kiosk", "usr/bin/cage", "bin/bash")


def verify(
    unit_text: str, root: Path, name: str = "jarvis-kiosk.service"
) -> subprocess.CompletedProcess[str]:
    target = root / "etc/systemd/system" / name
    if not root.exists():
        (root / "usr/lib/systemd").mkdir(parents=True)
        shutil.copytree(SYSTEM_UNITS, root / "usr/lib/systemd/system", symlinks=True)
        for executable in EXECUTABLES:
            path = root / executable
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("#!/bin/sh\n")
            path.chmod(0o755)
        target.parent.mkdir(parents=True)
    target.write_text(unit_text)
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", f"--root={root}", f"/etc/systemd/system/{name}"],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("name", ["jarvis-kiosk.service", "jarvis-kiosk-screen.service"])
def test_the_units_verify_cleanly(tmp_path: Path, name: str) -> None:
    result = verify((UNITS / name).read_text(), tmp_path / "root", name)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0, output
    assert name not in output, output


def test_the_screen_shows_the_agents_page_full_screen_with_nothing_from_the_internet() -> None:
    unit = unit_values(UNITS / "jarvis-kiosk-screen.service")
    service = unit["Service"]
    command = service["ExecStart"].split()
    assert command[:3] == ["/usr/bin/cage", "-s", "--"]
    assert command[3] == "/usr/bin/chromium"
    assert "--kiosk" in command
    assert command[-1] == "http://127.0.0.1:8610/"  # the agent's SCREEN__PORT default
    for flag in (
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ):
        assert flag in command, flag
    assert service["User"] == "jarvis-screen"
    assert service["Restart"] == "always"
    assert "jarvis-kiosk.service" in unit["Unit"]["After"].split()
    assert unit["Install"]["WantedBy"] == "graphical.target"


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (("Type=notify", "Type=notifyy"), "Failed to parse service type"),
        (("WatchdogSec=60", "WatchdogSek=60"), "Unknown key"),
        (
            ("ExecStart=/opt/jarvis-kiosk/venv/bin/jarvis-kiosk run", "ExecStart=/opt/nope run"),
            "not executable",
        ),
    ],
)
def test_the_check_catches_a_broken_unit(
    tmp_path: Path, change: tuple[str, str], complaint: str
) -> None:
    text = (UNITS / "jarvis-kiosk.service").read_text()
    assert change[0] in text
    result = verify(text.replace(change[0], change[1]), tmp_path / "root")
    assert complaint in result.stdout + result.stderr


def unit_values(path: Path) -> dict[str, dict[str, str]]:
    """Section → key → value, repeated keys joined with spaces (as systemd lists them)."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    text = path.read_text().replace("\\\n", " ")  # continuation lines are one line
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, value = line.split("=", 1)
        current[key] = f"{current[key]} {value}" if key in current else value
    return sections


def test_the_unit_runs_as_the_issue_asks() -> None:
    unit = unit_values(UNITS / "jarvis-kiosk.service")
    service, order = unit["Service"], unit["Unit"]
    assert service["Type"] == "notify"
    assert int(service["WatchdogSec"]) > 0
    assert service["Restart"] == "always"
    assert "network-online.target" in order["After"].split()
    assert "network-online.target" in order["Wants"].split()
    assert service["User"] == "jarvis-kiosk"
    assert set(service["SupplementaryGroups"].split()) == {"input", "audio"}
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["StateDirectory"] == "jarvis-kiosk"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_the_install_script_is_valid_bash_and_installs_every_piece() -> None:
    script = UNITS / "install.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    for piece in (
        "useradd",
        "input,audio",
        "70-jarvis-badge.rules",
        "pcscd",
        "polkit",
        "jarvis-kiosk.service",
        "systemctl enable",
        "blacklist pn533",
        "jarvis-kiosk-screen.service",
        "cage chromium",
    ):
        assert piece in text, piece
    result = subprocess.run(
        ["bash", str(script), "--reader", "nfc"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "--reader is evdev, pcsc or simulated" in result.stderr


def test_the_udev_rule_gives_the_reader_to_the_input_group() -> None:
    rules = [
        line
        for line in (UNITS / "70-jarvis-badge.rules").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules
    for rule in rules:
        pairs = re.findall(r'([A-Z]+(?:\{\w+\})?)(==|\+=|=)"([^"]*)"', rule)
        assert len(pairs) == rule.count('"') // 2, rule  # every assignment parsed
        keys = {(key, op): value for key, op, value in pairs}
        assert keys[("SUBSYSTEM", "==")] == "input"
        assert keys[("GROUP", "=")] == "input"
        assert keys[("MODE", "=")] == "0640"
        assert keys[("SYMLINK", "+=")] == "jarvis-badge"
