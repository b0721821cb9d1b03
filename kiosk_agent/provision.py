"""Provisioning a kiosk: claim the installer's six-character code and keep the credential.

The library half of ``jarvis-kiosk provision``; the CLI turns its errors into messages.
The order matters: check that the URL is a JARVIS cloud (so a typo in the URL is not
reported as a wrong code), claim, then write the identity file (mode 0600, atomically) and
the cloud's config. An existing identity is only replaced once the new claim succeeded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from pydantic import SecretStr

from contract.kiosk_api import ClaimRequest, KioskConfig
from hardware.sysinfo import DeviceIdError
from kiosk_agent import __version__
from kiosk_agent.adapters import system
from kiosk_agent.adapters.cloud import CloudClient, CloudHealth
from kiosk_agent.adapters.cloud_errors import CloudUnavailable
from kiosk_agent.adapters.identity import KioskIdentity, save_identity
from kiosk_agent.adapters.store_base import StoreError
from kiosk_agent.adapters.store_open import open_store
from kiosk_agent.config import KioskSettings
from provisioning.code import normalize_code

logger = logging.getLogger(__name__)


class ProvisionError(Exception):
    """Provisioning cannot go on; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Provisioned:
    identity: KioskIdentity
    config: KioskConfig
    health: CloudHealth


def normalize_cloud_url(text: str) -> str:
    """``jarvis.example.com`` → ``https://jarvis.example.com``; no trailing slash."""
    value = text.strip()
    if not value:
        raise ProvisionError("the cloud URL is empty: give the address of the JARVIS cloud")
    if "://" not in value:
        value = "https://" + value
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise ProvisionError(
            f"{text!r} is not a URL ({exc}): e.g. https://jarvis.example.com"
        ) from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ProvisionError(
            f"{text!r} is not a web address: give one like https://jarvis.example.com"
        )
    return str(url).rstrip("/")


async def check_cloud(settings: KioskSettings, cloud_url: str) -> CloudHealth:
    """That ``cloud_url`` is a JARVIS cloud and is up (raises the client's errors)."""
    async with CloudClient(cloud_url, settings.cloud) as client:
        health = await client.health()
    if health.status != "ok":
        raise CloudUnavailable(
            f"the JARVIS cloud at {cloud_url} is up but reports {health.status!r}: try again in "
            "a few minutes, or tell the platform's administrators",
            status=503,
        )
    return health


async def provision(settings: KioskSettings, cloud_url: str, code: str) -> Provisioned:
    """Claim ``code`` at ``cloud_url`` and keep the identity (raises the client's errors,
    ``provisioning.code.InvalidCode`` and ProvisionError)."""
    normalized = normalize_code(code)
    health = await check_cloud(settings, cloud_url)
    try:
        device = await asyncio.to_thread(system.device_id)
    except DeviceIdError as exc:
        raise ProvisionError(str(exc)) from exc
    hardware = await asyncio.to_thread(system.hardware_info, _existing(settings.state_dir))
    request = ClaimRequest(
        code=normalized, device_id=device, hardware_info=hardware, software_version=__version__
    )
    async with CloudClient(cloud_url, settings.cloud) as client:
        claimed = await client.claim(request)
    identity = KioskIdentity(
        kiosk_id=claimed.kiosk_id,
        kiosk_slug=claimed.kiosk_slug,
        kiosk_name=claimed.kiosk_name,
        gym_id=claimed.gym_id,
        gym_slug=claimed.gym_slug,
        gym_name=claimed.gym_name,
        cloud_url=cloud_url,
        device_id=device,
        credential=SecretStr(claimed.credential),
        provisioned_at=datetime.now(UTC),
    )
    try:
        await asyncio.to_thread(save_identity, settings.identity_path, identity)
    except OSError as exc:
        raise ProvisionError(
            f"the kiosk was claimed but its credential cannot be written to "
            f"{settings.identity_path} ({exc.strerror}); run the command as the kiosk's user "
            "(sudo -u jarvis-kiosk jarvis-kiosk provision --force) with a new code"
        ) from exc
    await asyncio.to_thread(_save_config, settings, claimed.config)
    _hand_over(settings)
    return Provisioned(identity=identity, config=claimed.config, health=health)


def _existing(path: Path) -> Path:
    """The folder itself if it exists, else its nearest existing parent (for disk figures)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _save_config(settings: KioskSettings, config: KioskConfig) -> None:
    try:
        store = open_store(settings.database_path, settings.store)
    except StoreError as exc:
        logger.warning("the cloud's config is not saved locally (%s); the agent gets it again", exc)
        return
    try:
        store.save_desired_config(config)
    except StoreError as exc:
        logger.warning("the cloud's config is not saved locally (%s); the agent gets it again", exc)
    finally:
        store.close()


def _hand_over(settings: KioskSettings) -> None:
    """Run as root for a kiosk whose state belongs to its service user: give the new files
    to that user, or the agent could not read its own credential."""
    if os.geteuid() != 0:
        return
    folder = settings.state_dir
    owner = folder.stat()
    if owner.st_uid == 0:
        return
    for path in folder.iterdir():
        with contextlib.suppress(OSError):
            os.chown(path, owner.st_uid, owner.st_gid)
