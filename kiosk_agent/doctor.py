"""``jarvis-kiosk doctor``: check everything a kiosk needs, and say what to do about it.

Each check answers ok, warn or fail with one line of findings and, when not ok, what to do.
The command exits 1 when any check fails. It reads the store read-only and opens the badge
reader and audio devices briefly, so stop the agent first for the reader and audio checks
(a grabbed reader or busy sound card is reported as such).
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import socket
import stat
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psutil

from hardware.audio import AudioDeviceError, open_audio
from hardware.settings import ReaderKind
from kiosk_agent.adapters.cloud import CloudClient, Credentials
from kiosk_agent.adapters.cloud_errors import CloudError
from kiosk_agent.adapters.identity import IdentityError, KioskIdentity, load_identity
from kiosk_agent.adapters.store import disk_status
from kiosk_agent.adapters.store_base import StoreError
from kiosk_agent.adapters.store_open import open_readonly
from kiosk_agent.checks import Check, Verdict, poll
from kiosk_agent.config import LoadedSettings
from kiosk_agent.doctor_badges import check_reader, check_recorded_reads

TONE_RATE = 24_000


@dataclass(frozen=True, slots=True)
class DoctorOptions:
    audio: bool = True
    reader: bool = True
    badge_wait_s: float = 0.0
    """Seconds to wait for a badge to be tapped (0: only check the reader opens)."""


class Doctor:
    def __init__(self, loaded: LoadedSettings, options: DoctorOptions) -> None:
        self.loaded = loaded
        self.settings = loaded.settings
        self.options = options
        self.identity: KioskIdentity | None = None

    async def run(self, report: Callable[[Check], None]) -> list[Check]:
        checks: list[Callable[[], Awaitable[Check]]] = [
            self.configuration,
            self.provisioning,
            self.store,
            self.disk,
            self.network,
            self.cloud,
        ]
        if self.options.reader:
            checks += [self.badge_reader, self.pcscd]
        checks.append(self.badge_reads)
        if self.options.audio:
            checks += [self.microphone, self.speaker]
        results = []
        for check in checks:
            try:
                result = await check()
            except Exception as exc:  # a check that breaks is a finding, not a crash
                result = Check(check.__name__, Verdict.FAIL, f"the check itself failed: {exc}")
            report(result)
            results.append(result)
        return results

    # -- local ------------------------------------------------------------------------------

    async def configuration(self) -> Check:
        loaded, state = self.loaded, self.settings.state_dir
        source = str(loaded.config_file) if loaded.config_file_found else "defaults and environment"
        if not state.is_dir():
            return Check(
                "configuration",
                Verdict.FAIL,
                f"settings from {source}; the state folder {state} does not exist",
                "install the kiosk with systemd/install.sh, or set JARVIS_KIOSK_STATE_DIR",
            )
        if not os.access(state, os.W_OK | os.X_OK):
            return Check(
                "configuration",
                Verdict.FAIL,
                f"settings from {source}; the state folder {state} is not writable by this user",
                "run as the kiosk's user: sudo -u jarvis-kiosk jarvis-kiosk doctor",
            )
        found = f"settings from {source}; state in {state}"
        if loaded.warnings:
            return Check("configuration", Verdict.WARN, f"{found}; {'; '.join(loaded.warnings)}")
        return Check("configuration", Verdict.OK, found)

    async def provisioning(self) -> Check:
        path = self.settings.identity_path
        try:
            self.identity = await asyncio.to_thread(load_identity, path)
        except IdentityError as exc:
            return Check("provisioning", Verdict.FAIL, str(exc))
        if self.identity is None:
            return Check(
                "provisioning",
                Verdict.FAIL,
                "this kiosk is not provisioned",
                "run `jarvis-kiosk provision` with the code from the gym's manager",
            )
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            return Check(
                "provisioning",
                Verdict.WARN,
                f"{self.identity.describe()}; but {path} has mode {mode:04o}",
                f"chmod 600 {path}",
            )
        return Check("provisioning", Verdict.OK, self.identity.describe())

    async def store(self) -> Check:
        def inspect() -> Check:
            store = open_readonly(self.settings.database_path, self.settings.store)
            try:
                verdict = store.quick_check()
                counts = store.outbox_counts()
                incident = store.recent_incident()
            finally:
                store.close()
            if verdict != "ok":
                return Check(
                    "store",
                    Verdict.FAIL,
                    f"integrity check failed: {verdict[:200]}",
                    "restart the agent: it sets the damaged file aside and keeps what it can read",
                )
            found = (
                f"{counts.pending_sessions} session records and {counts.pending_events} events "
                f"waiting, {counts.refused} refused"
            )
            if incident is not None:
                return Check("store", Verdict.WARN, f"{found}; {incident.message}")
            return Check("store", Verdict.OK, found)

        try:
            return await asyncio.to_thread(inspect)
        except StoreError as exc:
            return Check("store", Verdict.WARN, str(exc), "start the agent once to create it")

    async def disk(self) -> Check:
        folder = (
            self.settings.state_dir
            if self.settings.state_dir.exists()
            else self.settings.state_dir.parent
        )
        status = disk_status(folder, self.settings.store)
        found = f"{status.free_mb:.0f} MB free ({status.used_percent:.0f} % used) on {folder}"
        if status.free_mb < self.settings.doctor.disk_fail_free_mb:
            return Check("disk", Verdict.FAIL, found, "free space now: records cannot be kept")
        if status.nearly_full:
            return Check("disk", Verdict.WARN, found, "free some space (old logs, packages)")
        return Check("disk", Verdict.OK, found)

    async def network(self) -> Check:
        up = [name for name, st in psutil.net_if_stats().items() if st.isup and name != "lo"]
        if not up:
            return Check(
                "network",
                Verdict.FAIL,
                "no network interface is up",
                "plug the cable or join the Wi-Fi",
            )
        url = self._cloud_url()
        if url is None:
            return Check("network", Verdict.OK, f"interfaces up: {', '.join(sorted(up))}")
        from httpx import URL

        host = URL(url).host
        try:
            await asyncio.to_thread(socket.getaddrinfo, host, None)
        except OSError as exc:
            return Check(
                "network",
                Verdict.FAIL,
                f"interfaces up: {', '.join(sorted(up))}; cannot resolve {host} ({exc})",
                "check DNS (/etc/resolv.conf) and the cloud URL",
            )
        return Check(
            "network", Verdict.OK, f"interfaces up: {', '.join(sorted(up))}; {host} resolves"
        )

    def _cloud_url(self) -> str | None:
        if self.settings.cloud.url:
            return self.settings.cloud.url
        return self.identity.cloud_url if self.identity else None

    # -- cloud ------------------------------------------------------------------------------

    async def cloud(self) -> Check:
        url = self._cloud_url()
        if url is None:
            return Check(
                "cloud",
                Verdict.FAIL,
                "no cloud URL: the kiosk is not provisioned and JARVIS_KIOSK_CLOUD__URL is unset",
                "run `jarvis-kiosk provision`",
            )
        credentials = None
        if self.identity is not None:
            credentials = Credentials(
                self.identity.kiosk_id, self.identity.credential.get_secret_value()
            )
        async with CloudClient(url, self.settings.cloud, credentials=credentials) as client:
            try:
                health = await client.health()
            except CloudError as exc:
                return Check("cloud", Verdict.FAIL, str(exc))
            found = (
                f"{url} is a JARVIS cloud ({health.status}, {health.round_trip_s * 1000:.0f} ms)"
            )
            skew = _skew(health.server_time, health.round_trip_s)
            if credentials is not None:
                try:
                    await client.check_credential()
                except CloudError as exc:
                    return Check("cloud", Verdict.FAIL, f"{found}; credential refused: {exc}")
                found += "; credential valid"
        if skew is None:
            return Check(
                "cloud", Verdict.OK, found + "; clock not compared (no time from the cloud)"
            )
        limits = self.settings.doctor
        found += f"; clock differs by {skew:+.1f} s"
        if abs(skew) >= limits.clock_skew_fail_s:
            return Check(
                "cloud", Verdict.FAIL, found, "fix the clock: sudo timedatectl set-ntp true"
            )
        if abs(skew) >= limits.clock_skew_warn_s:
            return Check("cloud", Verdict.WARN, found, "enable NTP: sudo timedatectl set-ntp true")
        return Check("cloud", Verdict.OK, found)

    # -- devices ----------------------------------------------------------------------------

    async def badge_reader(self) -> Check:
        return await check_reader(self.settings.badge, self.options.badge_wait_s)

    async def badge_reads(self) -> Check:
        return await asyncio.to_thread(check_recorded_reads, self.settings)

    async def pcscd(self) -> Check:
        needed = self.settings.badge.kind is ReaderKind.PCSC
        running = any(p.info.get("name") == "pcscd" for p in psutil.process_iter(["name"]))
        if running or await asyncio.to_thread(Path("/run/pcscd/pcscd.comm").exists):
            return Check("pcscd", Verdict.OK, "pcscd is running")
        if not needed:
            return Check(
                "pcscd",
                Verdict.OK,
                f"not running; not needed for a {self.settings.badge.kind.value} reader",
            )
        installed = shutil.which("pcscd") is not None
        return Check(
            "pcscd",
            Verdict.FAIL,
            "pcscd is not running" + ("" if installed else " (not installed)"),
            "sudo apt install pcscd && sudo systemctl enable --now pcscd.socket",
        )

    async def microphone(self) -> Check:
        seconds = self.settings.doctor.mic_seconds
        try:
            audio = open_audio(self.settings.audio, microphone=True, speaker=False)
            async with audio:
                audio.level()
                await asyncio.sleep(seconds)
                level = audio.level()
        except AudioDeviceError as exc:
            return Check("microphone", Verdict.FAIL, str(exc))
        found = (
            f"{level.samples} samples in {seconds:g} s: {level.rms_dbfs:.1f} dBFS RMS, "
            f"peak {level.peak_dbfs:.1f} dBFS"
        )
        if level.samples == 0:
            return Check(
                "microphone",
                Verdict.FAIL,
                "no audio came from the microphone",
                "check the input device setting and the cable",
            )
        if level.clipping:
            return Check(
                "microphone",
                Verdict.WARN,
                f"{found}; {level.clipped_samples} clipped samples",
                "lower the input gain (alsamixer)",
            )
        if level.rms_dbfs < self.settings.doctor.silence_dbfs:
            return Check(
                "microphone",
                Verdict.FAIL,
                f"{found}: silent",
                "unmute or raise the input gain (alsamixer), check the cable",
            )
        return Check("microphone", Verdict.OK, found)

    async def speaker(self) -> Check:
        limits = self.settings.doctor
        samples = int(TONE_RATE * limits.tone_seconds)
        t = np.arange(samples) / TONE_RATE
        tone = (0.3 * 32767 * np.sin(2 * math.pi * limits.tone_hz * t)).astype("<i2").tobytes()
        try:
            audio = open_audio(self.settings.audio, microphone=False, speaker=True)
            async with audio:
                audio.play("doctor-tone", tone)
                audio.finish_item("doctor-tone")
                expected = int(limits.tone_seconds * 1000 * 0.95)
                await poll(
                    lambda: audio.played_ms("doctor-tone") >= expected, limits.tone_seconds + 2.0
                )
                played = audio.played_ms("doctor-tone")
        except AudioDeviceError as exc:
            return Check("speaker", Verdict.FAIL, str(exc))
        if played < expected:
            return Check(
                "speaker",
                Verdict.FAIL,
                f"only {played} ms of the tone were played",
                "check the output device setting",
            )
        return Check(
            "speaker",
            Verdict.OK,
            f"played a {limits.tone_hz:g} Hz tone for {played} ms: you should have heard it",
        )


def _skew(server_time: datetime | None, round_trip_s: float) -> float | None:
    if server_time is None:
        return None
    local = datetime.now(UTC)
    return (local - server_time).total_seconds() - round_trip_s / 2
