"""Settings: defaults, the config file, the environment, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from hardware.settings import ReaderKind
from kiosk_agent.config import DEFAULT_STATE_DIR, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("JARVIS_KIOSK_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("JARVIS_KIOSK_CONFIG", str(tmp_path / "kiosk.env"))
    (tmp_path / "kiosk.env").write_text("")


def test_defaults() -> None:
    settings = load_settings().settings
    assert settings.state_dir == DEFAULT_STATE_DIR
    assert settings.database_path == DEFAULT_STATE_DIR / "kiosk.db"
    assert settings.identity_path == DEFAULT_STATE_DIR / "credential.json"
    assert settings.heartbeat.interval_s == 30
    assert settings.session.debounce_s == 5
    assert settings.cloud.url is None


def test_the_config_file_then_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "kiosk.env").write_text(
        "JARVIS_KIOSK_CLOUD__URL=https://jarvis.example.com\n"
        "JARVIS_KIOSK_BADGE__KIND=pcsc\n"
        "JARVIS_KIOSK_HEARTBEAT__INTERVAL_S=60\n"
        "JARVIS_KIOSK_STATE_DIR=/srv/kiosk\n"
    )
    monkeypatch.setenv("JARVIS_KIOSK_HEARTBEAT__INTERVAL_S", "15")
    loaded = load_settings()
    settings = loaded.settings
    assert loaded.config_file_found
    assert settings.cloud.url == "https://jarvis.example.com"
    assert settings.badge.kind is ReaderKind.PCSC
    assert settings.heartbeat.interval_s == 15  # the environment wins over the file
    assert settings.state_dir == Path("/srv/kiosk")
    assert "interval_s" in settings.heartbeat.model_fields_set  # set locally: wins over the cloud
    assert "interval_s" not in settings.member_sync.model_fields_set


def test_settings_are_frozen() -> None:
    settings = load_settings().settings
    with pytest.raises(ValueError, match="frozen"):
        settings.heartbeat.interval_s = 1  # type: ignore[misc]


def test_a_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JARVIS_KIOSK_OUTBOX__BATCH_SIZE", "500")
    with pytest.raises(
        SettingsError, match="JARVIS_KIOSK_OUTBOX__BATCH_SIZE: Input should be less"
    ):
        load_settings()


def test_a_named_config_file_that_is_missing_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("JARVIS_KIOSK_CONFIG", str(tmp_path / "nope.env"))
    with pytest.raises(SettingsError, match="not a file"):
        load_settings()


def test_the_old_debounce_name_still_works_and_says_its_new_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "kiosk.env").write_text("JARVIS_KIOSK_BADGE__DEBOUNCE_S=2\n")
    loaded = load_settings()
    assert loaded.settings.session.debounce_s == 2
    assert "debounce_s" in loaded.settings.session.model_fields_set
    [warning] = loaded.warnings
    assert "rename it JARVIS_KIOSK_SESSION__DEBOUNCE_S" in warning
    monkeypatch.setenv("JARVIS_KIOSK_SESSION__DEBOUNCE_S", "7")
    loaded = load_settings()
    assert loaded.settings.session.debounce_s == 7  # the new name wins
    [warning] = loaded.warnings
    assert "JARVIS_KIOSK_BADGE__DEBOUNCE_S is ignored" in warning


def test_every_kiosk_setting_is_in_env_example() -> None:
    """The kiosk's half of .env.example: every setting, and no old name, is listed."""
    from pydantic import BaseModel

    from kiosk_agent.config import RENAMED, KioskSettings

    example = (Path(__file__).resolve().parents[3] / ".env.example").read_text()

    def names(model: type[BaseModel], prefix: str) -> list[str]:
        found = []
        for name, field in model.model_fields.items():
            kind = field.annotation
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                found += names(kind, f"{prefix}{name.upper()}__")
            else:
                found.append(f"{prefix}{name.upper()}")
        return found

    settings = names(KioskSettings, "JARVIS_KIOSK_")
    assert [n for n in settings if f"{n}=" not in example] == []
    assert [old for old in RENAMED if f"# {old}=" in example] == []
