"""The `jarvis-kiosk` command surface: help for every command, version, settings errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kiosk_agent import __version__
from kiosk_agent.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("provision", "--cloud-url"),
        ("run", "heartbeats"),
        ("doctor", "--tap"),
        ("status", "--json"),
    ],
)
def test_every_command_explains_itself(command: str, says: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert says in result.output


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"jarvis-kiosk {__version__}"


def test_a_bad_setting_is_named_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("JARVIS_KIOSK_CONFIG", str(tmp_path / "kiosk.env"))
    (tmp_path / "kiosk.env").write_text("JARVIS_KIOSK_SESSION__DEBOUNCE_S=soon\n")
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 2
    assert "JARVIS_KIOSK_SESSION__DEBOUNCE_S" in result.output
    assert str(tmp_path / "kiosk.env") in result.output
