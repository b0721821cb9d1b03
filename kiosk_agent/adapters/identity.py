"""The kiosk's identity and credential: one JSON file, mode 0600, replaced atomically.

It is kept apart from the SQLite store on purpose: a damaged database is set aside and
rebuilt, and the kiosk must keep its identity through that to go on reporting to the cloud.
Writes go to a temporary file in the same folder, are fsynced, renamed over the old file and
the folder is fsynced, so a power cut leaves either the old or the new credential, never half
of one. The credential is a ``SecretStr``: it never shows in logs, reprs or error messages.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from kiosk_agent.adapters.store_base import fsync_dir

logger = logging.getLogger(__name__)

FILE_MODE = 0o600


class IdentityError(Exception):
    """The identity file exists but cannot be used; the message says what to do."""


class KioskIdentity(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kiosk_id: UUID
    kiosk_slug: str
    kiosk_name: str
    gym_id: UUID
    gym_slug: str
    gym_name: str
    cloud_url: str
    device_id: str
    credential: SecretStr
    provisioned_at: datetime

    def with_credential(self, credential: str) -> KioskIdentity:
        return self.model_copy(update={"credential": SecretStr(credential)})

    def describe(self) -> str:
        return (
            f"kiosk {self.kiosk_name!r} ({self.kiosk_slug}) of {self.gym_name!r} ({self.gym_slug})"
        )


def load_identity(path: Path) -> KioskIdentity | None:
    """The saved identity, or None when the kiosk was never provisioned."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IdentityError(f"cannot read {path}: {exc.strerror}") from exc
    if stat.S_IMODE(mode) & 0o077:
        logger.warning("%s was readable by others; restricting it to mode 0600", path)
        with contextlib.suppress(OSError):
            path.chmod(FILE_MODE)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return KioskIdentity.model_validate(data)
    except PermissionError as exc:
        raise IdentityError(
            f"cannot read {path}: permission denied; run as the kiosk's user "
            "(sudo -u jarvis-kiosk jarvis-kiosk ...)"
        ) from exc
    except (OSError, ValueError, ValidationError) as exc:
        raise IdentityError(
            f"{path} is damaged ({type(exc).__name__}); provision the kiosk again with "
            "`jarvis-kiosk provision --force` and a new code"
        ) from exc


def save_identity(path: Path, identity: KioskIdentity) -> None:
    """Write the identity durably and atomically, readable by the kiosk's user only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = identity.model_dump(mode="json")
    data["credential"] = identity.credential.get_secret_value()
    body = json.dumps(data, indent=2, sort_keys=True).encode()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # O_CREAT's mode is ignored for an existing leftover
        view = memoryview(body)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    os.close(fd)
    os.replace(temporary, path)
    fsync_dir(path.parent)


def retire_identity(path: Path, reason: str) -> Path | None:
    """Move the identity aside (the cloud asked for re-provisioning); returns where."""
    if not path.exists():
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.retired-{stamp}")
    os.replace(path, target)
    fsync_dir(path.parent)
    logger.warning("identity retired to %s: %s", target, reason)
    return target
