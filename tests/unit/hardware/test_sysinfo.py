"""Device id and system figures, read from fake /proc and /sys trees and from this machine."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from hardware.sysinfo import (
    APP_KEY,
    DeviceIdError,
    DeviceIdSource,
    collect,
    cpu_model,
    cpu_temperature,
    device_id,
)

PI_CPUINFO = """\
processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41

Hardware\t: BCM2835
Revision\t: c03114
Serial\t\t: 10000000a3b5c7d9
Model\t\t: Raspberry Pi 4 Model B Rev 1.4
"""
MACHINE_ID = "3d1219c7c4c5404aaa1f6d2a48adfda4"


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


def test_raspberry_pi_serial_wins(tmp_path: Path) -> None:
    root = tree(tmp_path, {"proc/cpuinfo": PI_CPUINFO, "etc/machine-id": MACHINE_ID + "\n"})
    found = device_id(root)
    assert (found.value, found.source) == (
        "rpi-10000000a3b5c7d9",
        DeviceIdSource.RASPBERRY_PI_SERIAL,
    )


def test_device_tree_serial_is_read_on_newer_kernels(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "sys/firmware/devicetree/base/serial-number": "00000000c0ffee42\x00",
            "sys/firmware/devicetree/base/model": "Raspberry Pi 5 Model B Rev 1.0\x00",
        },
    )
    assert device_id(root).value == "rpi-00000000c0ffee42"
    assert cpu_model(root) == "Raspberry Pi 5 Model B Rev 1.0"


def test_machine_id_is_never_sent_raw(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {"proc/cpuinfo": "model name\t: Intel(R) Xeon(R)\n", "etc/machine-id": MACHINE_ID + "\n"},
    )
    found = device_id(root)
    expected = hmac.new(APP_KEY, bytes.fromhex(MACHINE_ID), hashlib.sha256).hexdigest()[:32]
    assert (found.value, found.source) == (f"mid-{expected}", DeviceIdSource.MACHINE_ID)
    assert MACHINE_ID not in found.value
    assert device_id(root) == found  # stable
    assert cpu_model(root) == "Intel(R) Xeon(R)"


def test_mac_of_a_physical_interface_is_the_last_resort(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "etc/machine-id": "uninitialized\n",
            "sys/class/net/docker0/address": "02:42:ac:11:00:01\n",  # virtual: no device
            "sys/class/net/eth0/address": "DC:A6:32:01:02:03\n",
            "sys/class/net/eth0/device/uevent": "DRIVER=bcmgenet\n",
        },
    )
    found = device_id(root)
    assert (found.value, found.source) == ("mac-dca632010203", DeviceIdSource.MAC_ADDRESS)


def test_no_identity_at_all_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(DeviceIdError, match="systemd-machine-id-setup"):
        device_id(tmp_path)


def test_temperature_from_a_thermal_zone(tmp_path: Path) -> None:
    root = tree(tmp_path, {"sys/class/thermal/thermal_zone0/temp": "48312\n"})
    assert cpu_temperature(root) == pytest.approx(48.312)
    assert cpu_temperature(tmp_path / "nothing") is None


def test_collect_on_this_machine(tmp_path: Path) -> None:
    info = collect(tmp_path)
    assert info.device_id.value
    assert info.cpu_count >= 1
    assert 0 < info.memory_available_bytes <= info.memory_total_bytes
    assert 0 < info.disk_free_bytes <= info.disk_total_bytes
    assert info.disk_path == str(tmp_path)
    assert info.uptime_s > 0
    assert all(interface.name != "lo" for interface in info.network)
    assert info.cpu_model
