"""Kiosk settings: one frozen object, built once by the CLI, one section per subsystem.

Where values come from, later ones winning:

1. the defaults below;
2. the config file, ``/etc/jarvis-kiosk/kiosk.env`` (another path with ``JARVIS_KIOSK_CONFIG``);
3. environment variables.

Every setting is named ``JARVIS_KIOSK_<SECTION>__<FIELD>`` (two underscores between section
and field), e.g. ``JARVIS_KIOSK_CLOUD__URL`` or ``JARVIS_KIOSK_BADGE__KIND``; the state folder
is ``JARVIS_KIOSK_STATE_DIR``. `.env.example` lists them all with their defaults.

What the cloud decides (voice, language, intervals, limits) arrives with provisioning and
every heartbeat answer and overrides the matching defaults here while the kiosk runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hardware.settings import AudioSettings, BadgeReaderSettings

DEFAULT_CONFIG_FILE = Path("/etc/jarvis-kiosk/kiosk.env")
DEFAULT_STATE_DIR = Path("/var/lib/jarvis-kiosk")
CONFIG_FILE_VARIABLE = "JARVIS_KIOSK_CONFIG"
ENV_PREFIX = "JARVIS_KIOSK_"

RENAMED: Mapping[str, str] = {
    # One debounce: the state machine's (see kiosk_agent.core.machine).
    "JARVIS_KIOSK_BADGE__DEBOUNCE_S": "JARVIS_KIOSK_SESSION__DEBOUNCE_S",
}
"""Old setting names that still work, and the names that replaced them."""


def _path(name: str) -> tuple[str, ...]:
    return tuple(name.removeprefix(ENV_PREFIX).lower().split("__"))


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CloudSection(_Section):
    """How the kiosk talks to the JARVIS cloud."""

    url: str | None = Field(
        default=None,
        description="Base URL of the JARVIS cloud, e.g. https://jarvis.example.com. Used by "
        "`provision` when --cloud-url is not given, and by `run` instead of the URL recorded "
        "at provisioning when set.",
    )
    connect_timeout_s: float = Field(
        default=5.0, gt=0, description="Seconds to wait for a connection to the cloud."
    )
    request_timeout_s: float = Field(
        default=15.0, gt=0, description="Seconds to wait for any cloud answer."
    )
    member_lookup_timeout_s: float = Field(
        default=2.0,
        gt=0,
        description="Seconds a badge lookup may take before the local member cache answers.",
    )
    voice_start_timeout_s: float = Field(
        default=8.0, gt=0, description="Seconds to wait for the cloud to start a voice session."
    )
    ca_bundle: Path | None = Field(
        default=None,
        description="PEM file of certificate authorities to trust instead of the system's.",
    )


class StoreSection(_Section):
    """The local SQLite store (outbox, member cache, config) and its disk budget."""

    max_size_mb: float = Field(
        default=1024.0,
        gt=0,
        description="Megabytes the store may use. Past it, heartbeat history is dropped "
        "first, then refused records and old events; session records are kept until "
        "delivered.",
    )
    min_free_mb: float = Field(
        default=256.0,
        ge=0,
        description="Megabytes: less free space than this on the state folder's disk raises "
        "the disk-nearly-full health flag.",
    )
    nearly_full_percent: float = Field(
        default=95.0,
        gt=0,
        le=100,
        description="Percent: the disk-nearly-full flag is also raised past this usage.",
    )
    heartbeat_history_rows: int = Field(
        default=2880,
        ge=0,
        description="Heartbeats kept locally for `status` and troubleshooting (2880 = one "
        "day at 30 s).",
    )
    write_retry_s: float = Field(
        default=10.0,
        gt=0,
        description="Seconds between attempts to write records kept in memory while the "
        "store cannot be written (disk full).",
    )
    incident_flag_hours: float = Field(
        default=24.0,
        ge=0,
        description="Hours the store health flag stays down after a corrupted database was "
        "set aside and replaced.",
    )


class OutboxSection(_Section):
    """Delivery of session records and events to the cloud."""

    batch_size: int = Field(
        default=50,
        ge=1,
        le=100,
        description="Session records per upload (the cloud's config may lower it).",
    )
    event_batch_size: int = Field(default=100, ge=1, le=200, description="Events per upload.")
    backoff_initial_s: float = Field(
        default=1.0, gt=0, description="Seconds before the first retry after a failed upload."
    )
    backoff_max_s: float = Field(
        default=300.0, gt=0, description="Seconds: the longest wait between upload retries."
    )
    poll_interval_s: float = Field(
        default=30.0,
        gt=0,
        description="Seconds between looks at the outbox when nothing wakes the uploader.",
    )


class HeartbeatSection(_Section):
    """Heartbeats: the kiosk's health report to the cloud."""

    interval_s: float = Field(
        default=30.0,
        ge=1,
        description="Seconds between heartbeats until the cloud's config says otherwise.",
    )


class MemberSyncSection(_Section):
    """The offline member cache, delta-synced from the cloud."""

    interval_s: float = Field(
        default=300.0,
        ge=1,
        description="Seconds between member syncs until the cloud's config says otherwise.",
    )


class SessionSection(_Section):
    """Badge handling and voice sessions."""

    debounce_s: float = Field(
        default=5.0,
        ge=0,
        description="Seconds during which the same badge read again is ignored (a card held "
        "on the reader, a second tap); each read restarts the window. The kiosk's only "
        "debounce, for every reader kind.",
    )
    end_grace_s: float = Field(
        default=6.0,
        gt=0,
        description="Seconds a conversation asked to end may take to say goodbye and close "
        "before it is closed and recorded as it stands.",
    )
    warm_connection: bool = Field(
        default=True,
        description="Keep a Realtime connection open and configured before anyone taps (bound "
        "to the member at the tap), so JARVIS greets within half a second.",
    )
    cache_first: bool = Field(
        default=True,
        description="Check an active member's badge against the local cache at the tap; the "
        "cloud checks the member again when it starts the session.",
    )


class AnnounceSection(_Section):
    """Messages for members (badge refused, kiosk offline...): on screen and spoken."""

    speak: bool = Field(
        default=True, description="Speak messages with espeak-ng when it is installed."
    )
    espeak_command: str = Field(default="espeak-ng", description="The espeak-ng executable.")
    screen_file: Path | None = Field(
        default=None,
        description="JSON file holding the message on screen, for a display to show. Unset: "
        "screen.json in the state folder.",
    )


class ScreenSection(_Section):
    """The kiosk's screen: a local page served by the agent, shown full screen by Chromium."""

    enabled: bool = Field(
        default=True,
        description="Serve the screen page on 127.0.0.1 (costs nothing without a display).",
    )
    port: int = Field(default=8610, ge=0, le=65535, description="The screen page's port.")
    simulate_badge: bool = Field(
        default=False,
        description="Development: a 'simulate badge' control on the page taps a badge.",
    )


class DoctorSection(_Section):
    """`jarvis-kiosk doctor` thresholds."""

    mic_seconds: float = Field(
        default=2.0, gt=0, description="Seconds of microphone audio measured."
    )
    silence_dbfs: float = Field(
        default=-70.0,
        description="dBFS: a microphone quieter than this is reported silent (dead or muted).",
    )
    tone_hz: float = Field(default=440.0, gt=0, description="Hz of the speaker test tone.")
    tone_seconds: float = Field(default=1.0, gt=0, description="Seconds of test tone.")
    clock_skew_warn_s: float = Field(
        default=5.0, gt=0, description="Seconds of clock difference with the cloud that warn."
    )
    clock_skew_fail_s: float = Field(
        default=60.0,
        gt=0,
        description="Seconds of clock difference that fail (tokens and TLS break).",
    )
    disk_fail_free_mb: float = Field(
        default=64.0, ge=0, description="Megabytes free below which the disk check fails."
    )


class LogSection(_Section):
    """What the agent logs (to standard error: the journal under systemd)."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level (logs go to standard error, i.e. the journal)."
    )


class KioskSettings(BaseSettings):
    """Everything `jarvis-kiosk` reads from its config file and environment."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    state_dir: Path = Field(
        default=DEFAULT_STATE_DIR,
        description="Folder for the store, the credential and the screen file. Use a local "
        "folder in development (e.g. ./.jarvis/kiosk).",
    )
    cloud: CloudSection = Field(default_factory=CloudSection)
    store: StoreSection = Field(default_factory=StoreSection)
    outbox: OutboxSection = Field(default_factory=OutboxSection)
    heartbeat: HeartbeatSection = Field(default_factory=HeartbeatSection)
    member_sync: MemberSyncSection = Field(default_factory=MemberSyncSection)
    session: SessionSection = Field(default_factory=SessionSection)
    announce: AnnounceSection = Field(default_factory=AnnounceSection)
    screen: ScreenSection = Field(default_factory=ScreenSection)
    doctor: DoctorSection = Field(default_factory=DoctorSection)
    log: LogSection = Field(default_factory=LogSection)
    badge: BadgeReaderSettings = Field(default_factory=BadgeReaderSettings)
    audio: AudioSettings = Field(default_factory=AudioSettings)

    @model_validator(mode="before")
    @classmethod
    def _take_old_names(cls, data: Any) -> Any:
        """A value under an old name (:data:`RENAMED`) moves to its new name, unless the new
        name is set too (then the new one wins and ``load_settings`` says so)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for old, new in RENAMED.items():
            *old_sections, old_field = _path(old)
            *new_sections, new_field = _path(new)
            holder = _section(data, old_sections)
            if holder is None or old_field not in holder:
                continue
            value = holder.pop(old_field)
            target = _section(data, new_sections, create=True)
            assert target is not None
            target.setdefault(new_field, value)
        return data

    @property
    def database_path(self) -> Path:
        return self.state_dir / "kiosk.db"

    @property
    def identity_path(self) -> Path:
        """The kiosk's identity and credential (mode 0600), written by `provision`."""
        return self.state_dir / "credential.json"

    @property
    def screen_path(self) -> Path:
        return self.announce.screen_file or self.state_dir / "screen.json"


def _section(
    data: dict[str, Any], path: list[str], *, create: bool = False
) -> dict[str, Any] | None:
    """The nested dict at ``path`` in ``data``, copied so the caller's input is untouched."""
    holder = data
    for key in path:
        inner = holder.get(key)
        if not isinstance(inner, dict):
            if not create:
                return None
            inner = {}
        holder[key] = inner = dict(inner)
        holder = inner
    return holder


class SettingsError(Exception):
    """The configuration cannot be used; the message names the setting and the source."""


@dataclass(frozen=True, slots=True)
class LoadedSettings:
    settings: KioskSettings
    config_file: Path
    """The config file that was looked for."""
    config_file_found: bool
    warnings: tuple[str, ...] = ()
    """Settings that work but should be changed (old names), one sentence each."""


def load_settings() -> LoadedSettings:
    """Build the settings once: defaults, then the config file, then the environment."""
    named = os.environ.get(CONFIG_FILE_VARIABLE)
    config_file = Path(named or DEFAULT_CONFIG_FILE)
    found = config_file.is_file()
    if named and not found:
        raise SettingsError(
            f"{CONFIG_FILE_VARIABLE} points to {config_file}, which is not a file: fix the "
            "path or unset the variable to use /etc/jarvis-kiosk/kiosk.env"
        )
    try:
        settings = KioskSettings(_env_file=config_file if found else None)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, config_file if found else None)) from exc
    except OSError as exc:
        raise SettingsError(f"cannot read the config file {config_file}: {exc.strerror}") from exc
    warnings = _old_names_in_use(config_file if found else None)
    return LoadedSettings(
        settings=settings, config_file=config_file, config_file_found=found, warnings=warnings
    )


def _old_names_in_use(env_file: Path | None) -> tuple[str, ...]:
    # Names are matched without regard to case, as pydantic-settings reads them.
    given = {name.upper() for name in os.environ}
    if env_file is not None:
        given |= {name.upper() for name in dotenv_values(env_file)}
    warnings = []
    for old, new in RENAMED.items():
        if old not in given:
            continue
        if new in given:
            warnings.append(f"{old} is ignored: {new}, its new name, is set too; remove {old}")
        else:
            warnings.append(f"{old} is an old name: rename it {new} (its value is used)")
    return tuple(warnings)


def _describe(exc: ValidationError, env_file: Path | None) -> str:
    problems = []
    for error in exc.errors():
        parts = [str(p) for p in error.get("loc", ()) if not isinstance(p, int)]
        name = ENV_PREFIX + "__".join(parts).upper()
        problems.append(f"{name}: {error.get('msg', 'invalid')}")
    where = f"{env_file} or the environment" if env_file else "the environment"
    return f"invalid kiosk settings in {where}: " + "; ".join(problems)
