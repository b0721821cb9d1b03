"""The kiosk's identity file: mode 0600, atomic replacement, the credential never shown."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from pydantic import SecretStr

from kiosk_agent.adapters.identity import (
    IdentityError,
    KioskIdentity,
    load_identity,
    retire_identity,
    save_identity,
)

SECRET = "jkc_very-secret-credential"


def identity() -> KioskIdentity:
    return KioskIdentity(
        kiosk_id=uuid4(),
        kiosk_slug="entrance",
        kiosk_name="Entrée",
        gym_id=uuid4(),
        gym_slug="gym-a",
        gym_name="Gym A",
        cloud_url="https://jarvis.example.com",
        device_id="rpi-10000000abcdef",
        credential=SecretStr(SECRET),
        provisioned_at=datetime(2026, 11, 22, tzinfo=UTC),
    )


def test_saved_with_mode_0600_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "state" / "credential.json"
    saved = identity()
    save_identity(path, saved)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_identity(path) == saved
    assert load_identity(path).credential.get_secret_value() == SECRET  # type: ignore[union-attr]
    assert [p.name for p in path.parent.iterdir()] == ["credential.json"]  # no temporary left


def test_the_credential_never_shows_in_reprs_or_descriptions(tmp_path: Path) -> None:
    saved = identity()
    assert SECRET not in repr(saved)
    assert SECRET not in str(saved)
    assert SECRET not in saved.describe()
    assert saved.describe() == "kiosk 'Entrée' (entrance) of 'Gym A' (gym-a)"


def test_rotation_replaces_the_credential_atomically(tmp_path: Path) -> None:
    path = tmp_path / "credential.json"
    saved = identity()
    save_identity(path, saved)
    inode = path.stat().st_ino
    save_identity(path, saved.with_credential("jkc_new"))
    assert path.stat().st_ino != inode  # a new file renamed over the old one
    assert load_identity(path).credential.get_secret_value() == "jkc_new"  # type: ignore[union-attr]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_file_readable_by_others_is_restricted(tmp_path: Path) -> None:
    path = tmp_path / "credential.json"
    save_identity(path, identity())
    path.chmod(0o644)
    assert load_identity(path) is not None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_missing_means_not_provisioned_and_damaged_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "credential.json"
    assert load_identity(path) is None
    path.write_text("{not json")
    with pytest.raises(IdentityError, match="provision --force"):
        load_identity(path)


def test_retiring_moves_the_identity_aside(tmp_path: Path) -> None:
    path = tmp_path / "credential.json"
    save_identity(path, identity())
    moved = retire_identity(path, "the cloud asked")
    assert moved is not None
    assert moved.name.startswith("credential.json.retired-")
    assert load_identity(path) is None
    assert retire_identity(path, "again") is None
