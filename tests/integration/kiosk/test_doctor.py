"""`jarvis-kiosk doctor` on this machine: a provisioned kiosk with the simulated reader and
file audio passes; an unprovisioned one is told what to do, with exit code 1."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cloud_server import CloudServer
from tests.integration.kiosk.kiosk_home import KioskHome
from tests.integration.realtime.kiosk_audio import member_speech, silence, write_wav


def test_a_ready_kiosk_passes_every_check(cloud: CloudServer, tmp_path: Path) -> None:
    speech = write_wav(tmp_path / "mic.wav", silence(200) + member_speech("Bonjour JARVIS"))
    home = KioskHome(
        tmp_path / "kiosk",
        extra={
            "JARVIS_KIOSK_AUDIO__BACKEND": "file",
            "JARVIS_KIOSK_AUDIO__INPUT_WAV": str(speech),
            "JARVIS_KIOSK_AUDIO__FILE_LOOP": "true",
            "JARVIS_KIOSK_STORE__MIN_FREE_MB": "1",
            "JARVIS_KIOSK_DOCTOR__MIC_SECONDS": "0.6",
            "JARVIS_KIOSK_DOCTOR__TONE_SECONDS": "0.3",
        },
    )
    identity = home.provision(cloud.base_url, cloud.create_kiosk("gym-a", "Doctor"))
    result = home.cli("doctor", "--json")
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert result.returncode == 0, result.stdout
    assert set(checks) == {
        "configuration",
        "provisioning",
        "store",
        "disk",
        "network",
        "cloud",
        "badge reader",
        "pcscd",
        "badge reads",
        "microphone",
        "speaker",
    }
    assert all(c["verdict"] != "fail" for c in checks.values()), checks
    assert checks["provisioning"]["finding"] == identity.describe()
    assert "is a JARVIS cloud" in checks["cloud"]["finding"]
    assert "credential valid" in checks["cloud"]["finding"]
    assert "clock differs by" in checks["cloud"]["finding"]
    assert "dBFS RMS" in checks["microphone"]["finding"]
    assert "Hz tone" in checks["speaker"]["finding"]
    text = home.cli("doctor", "--skip-audio").stdout
    assert "[ ok ] cloud:" in text
    assert "this kiosk is ready" in text


def test_an_unprovisioned_kiosk_is_told_what_to_do(tmp_path: Path) -> None:
    home = KioskHome(tmp_path / "kiosk")
    result = home.cli("doctor", "--skip-audio", "--skip-reader")
    assert result.returncode == 1
    assert "[FAIL] provisioning: this kiosk is not provisioned" in result.stdout
    assert "→ run `jarvis-kiosk provision` with the code from the gym's manager" in result.stdout
    assert "failed" in result.stdout.splitlines()[-1]


def test_a_silent_microphone_fails_with_advice(cloud: CloudServer, tmp_path: Path) -> None:
    quiet = write_wav(tmp_path / "quiet.wav", silence(3000))
    home = KioskHome(
        tmp_path / "kiosk",
        extra={
            "JARVIS_KIOSK_AUDIO__BACKEND": "file",
            "JARVIS_KIOSK_AUDIO__INPUT_WAV": str(quiet),
            "JARVIS_KIOSK_DOCTOR__MIC_SECONDS": "0.6",
            "JARVIS_KIOSK_DOCTOR__TONE_SECONDS": "0.3",
        },
    )
    result = home.cli("doctor", "--skip-reader")
    assert result.returncode == 1
    assert "[FAIL] microphone:" in result.stdout
    assert "silent" in result.stdout
    assert "raise the input gain" in result.stdout
