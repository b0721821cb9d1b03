"""The machine's figures for heartbeats and provisioning, read with ``hardware.sysinfo``."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

from hardware import sysinfo
from kiosk_agent import __version__
from kiosk_agent.core.heartbeat import SystemFigures


def system_figures(state_dir: Path) -> SystemFigures:
    """Current figures (blocking: psutil reads /proc; call it off the event loop)."""
    info = sysinfo.collect(state_dir)
    memory_percent = (
        100.0 * (1 - info.memory_available_bytes / info.memory_total_bytes)
        if info.memory_total_bytes
        else None
    )
    disk_percent = (
        100.0 * (1 - info.disk_free_bytes / info.disk_total_bytes)
        if info.disk_total_bytes
        else None
    )
    network_ok = any(
        i.is_up and any(not a.startswith(("127.", "::1", "fe80:")) for a in i.addresses)
        for i in info.network
    )
    return SystemFigures(
        cpu_percent=info.cpu_percent,
        cpu_temp_c=info.cpu_temp_c,
        load_1m=info.load_1m,
        memory_percent=memory_percent,
        disk_percent=disk_percent,
        disk_free_mb=info.disk_free_bytes / 1_048_576,
        uptime_s=info.uptime_s,
        network_ok=network_ok,
        extra={
            "interfaces": [i.name for i in info.network if i.is_up][:8],
            "os": info.os,
            "kernel": info.kernel,
            "python": info.python,
            "hardware": info.cpu_model,
        },
    )


def hardware_info(state_dir: Path) -> dict[str, Any]:
    """What the cloud keeps about the machine at provisioning."""
    info = sysinfo.collect(state_dir)
    return {
        "model": info.cpu_model,
        "cpu_count": info.cpu_count,
        "memory_mb": info.memory_total_bytes // 1_048_576,
        "disk_mb": info.disk_total_bytes // 1_048_576,
        "os": info.os,
        "kernel": info.kernel,
        "python": info.python,
        "machine": platform.machine(),
        "hostname": info.hostname,
        "device_id_source": info.device_id.source.value,
        "network": [
            {"name": i.name, "mac": i.mac, "speed_mbps": i.speed_mbps} for i in info.network
        ][:8],
        "agent_version": __version__,
    }


def device_id() -> str:
    """This machine's stable id (raises ``hardware.sysinfo.DeviceIdError`` when none)."""
    return sysinfo.device_id().value
