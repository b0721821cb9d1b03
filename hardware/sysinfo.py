"""What the kiosk says about its machine: a stable device id, and health figures.

The device id binds a kiosk to its cloud record at provisioning, so it must survive reboots,
reinstalls of the app and DHCP changes, and must not leak anything secret:

1. a Raspberry Pi's board serial number (``rpi-<serial>``): burned into the SoC;
2. else the systemd machine id, never sent raw (systemd asks that it stay confidential) but
   as an HMAC keyed by this application (``mid-<32 hex>``), like ``sd_id128_get_machine_app_
   specific``;
3. else the MAC address of the first physical network interface (``mac-<12 hex>``).

Everything reads through a ``root`` folder so tests can build a fake ``/proc`` and ``/sys``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import platform
import re
import socket
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import psutil

APP_KEY = b"jarvis-kiosk device id v1"
_SERIAL = re.compile(r"^Serial\s*:\s*([0-9a-fA-F]+)\s*$", re.MULTILINE)
_CPU_MODEL = re.compile(r"^(?:model name|Model|Hardware)\s*:\s*(.+?)\s*$", re.MULTILINE)
_MACHINE_ID = re.compile(r"^[0-9a-f]{32}$")
_MAC = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$")
# Sensor names that read the SoC or CPU package temperature, best first.
_CPU_SENSORS = ("cpu_thermal", "coretemp", "k10temp", "soc_thermal", "cpu-thermal", "acpitz")


class DeviceIdSource(StrEnum):
    RASPBERRY_PI_SERIAL = "raspberry_pi_serial"
    MACHINE_ID = "machine_id"
    MAC_ADDRESS = "mac_address"


class DeviceIdError(RuntimeError):
    """No stable identity could be found for this machine."""


@dataclass(frozen=True, slots=True)
class DeviceId:
    value: str
    source: DeviceIdSource


@dataclass(frozen=True, slots=True)
class NetworkInterface:
    name: str
    mac: str | None
    addresses: tuple[str, ...]
    """IPv4 and IPv6 addresses, without prefix length."""
    is_up: bool
    speed_mbps: int
    """0 when the driver does not say (Wi-Fi, virtual interfaces)."""


@dataclass(frozen=True, slots=True)
class SystemInfo:
    """Hardware and health figures for provisioning and heartbeats."""

    device_id: DeviceId
    hostname: str
    os: str
    kernel: str
    python: str
    cpu_model: str
    cpu_count: int
    cpu_percent: float
    """Percent of all cores busy since the previous call (0.0 on the first)."""
    load_1m: float
    cpu_temp_c: float | None
    """None on machines without a readable sensor (most VMs)."""
    memory_total_bytes: int
    memory_available_bytes: int
    disk_path: str
    disk_total_bytes: int
    disk_free_bytes: int
    uptime_s: float
    network: tuple[NetworkInterface, ...]


def device_id(root: Path = Path("/")) -> DeviceId:
    """This machine's stable id (see the module docstring for the order)."""
    serial = _raspberry_pi_serial(root)
    if serial is not None:
        return DeviceId(f"rpi-{serial}", DeviceIdSource.RASPBERRY_PI_SERIAL)
    for path in (root / "etc/machine-id", root / "var/lib/dbus/machine-id"):
        machine = _read(path)
        if machine is not None and _MACHINE_ID.match(machine) and set(machine) != {"0"}:
            digest = hmac.new(APP_KEY, bytes.fromhex(machine), hashlib.sha256).hexdigest()
            return DeviceId(f"mid-{digest[:32]}", DeviceIdSource.MACHINE_ID)
    mac = _first_physical_mac(root)
    if mac is not None:
        return DeviceId(f"mac-{mac.replace(':', '')}", DeviceIdSource.MAC_ADDRESS)
    raise DeviceIdError(
        "no stable device id: no Raspberry Pi serial, no /etc/machine-id and no physical "
        "network interface; create a machine id with `sudo systemd-machine-id-setup`"
    )


def collect(disk_path: Path, root: Path = Path("/")) -> SystemInfo:
    """The current figures; ``disk_path`` is the folder whose disk is reported (the state)."""
    disk = psutil.disk_usage(str(disk_path))
    memory = psutil.virtual_memory()
    uname = platform.uname()
    return SystemInfo(
        device_id=device_id(root),
        hostname=socket.gethostname(),
        os=_os_name(root),
        kernel=uname.release,
        python=platform.python_version(),
        cpu_model=cpu_model(root),
        cpu_count=psutil.cpu_count() or 1,
        cpu_percent=psutil.cpu_percent(interval=None),
        load_1m=os.getloadavg()[0],
        cpu_temp_c=cpu_temperature(root),
        memory_total_bytes=memory.total,
        memory_available_bytes=memory.available,
        disk_path=str(disk_path),
        disk_total_bytes=disk.total,
        disk_free_bytes=disk.free,
        uptime_s=max(0.0, time.time() - psutil.boot_time()),
        network=network_interfaces(),
    )


def cpu_model(root: Path = Path("/")) -> str:
    """ "Raspberry Pi 4 Model B Rev 1.4", "Intel(R) Xeon(R) ...", or the platform's guess."""
    model = _read(root / "sys/firmware/devicetree/base/model")
    if model:
        return model.rstrip("\x00")
    cpuinfo = _read(root / "proc/cpuinfo") or ""
    found = _CPU_MODEL.search(cpuinfo)
    if found:
        return found.group(1)
    return platform.processor() or platform.machine() or "unknown"


def cpu_temperature(root: Path = Path("/")) -> float | None:
    """CPU temperature in °C from the kernel's sensors, or None when there is none."""
    if root == Path("/") and hasattr(psutil, "sensors_temperatures"):
        sensors = psutil.sensors_temperatures()
        for name in _CPU_SENSORS:
            readings = sensors.get(name)
            if readings:
                return float(readings[0].current)
    for zone in sorted((root / "sys/class/thermal").glob("thermal_zone*")):
        millidegrees = _read(zone / "temp")
        if millidegrees and millidegrees.lstrip("-").isdigit():
            return int(millidegrees) / 1000
    return None


def network_interfaces() -> tuple[NetworkInterface, ...]:
    """Every interface but loopback, sorted by name."""
    addresses = psutil.net_if_addrs()
    stats = psutil.net_if_stats()
    interfaces = []
    for name in sorted(addresses):
        if name == "lo":
            continue
        mac = None
        ips = []
        for address in addresses[name]:
            if address.family == psutil.AF_LINK:
                mac = address.address.lower() or None
            elif address.family in (socket.AF_INET, socket.AF_INET6):
                ips.append(address.address.split("%")[0])
        stat = stats.get(name)
        interfaces.append(
            NetworkInterface(
                name=name,
                mac=mac,
                addresses=tuple(ips),
                is_up=bool(stat and stat.isup),
                speed_mbps=stat.speed if stat else 0,
            )
        )
    return tuple(interfaces)


def _raspberry_pi_serial(root: Path) -> str | None:
    serial = _read(root / "sys/firmware/devicetree/base/serial-number")
    if serial:
        serial = serial.rstrip("\x00").strip()
    else:
        found = _SERIAL.search(_read(root / "proc/cpuinfo") or "")
        serial = found.group(1) if found else None
    if not serial or set(serial) == {"0"}:
        return None
    return serial.lower()


def _first_physical_mac(root: Path) -> str | None:
    net = root / "sys/class/net"
    if not net.is_dir():
        return None
    for interface in sorted(net.iterdir()):
        # Physical interfaces have a backing device; bridges, veths and tunnels do not.
        if not (interface / "device").exists():
            continue
        mac = (_read(interface / "address") or "").lower()
        if _MAC.match(mac) and mac != "00:00:00:00:00:00":
            return mac
    return None


def _os_name(root: Path) -> str:
    release = _read(root / "etc/os-release") or ""
    found = re.search(r'^PRETTY_NAME="?(.*?)"?$', release, re.MULTILINE)
    return found.group(1) if found else platform.system()


def _read(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return None
