"""The heartbeat, sans I/O: figures gathered by adapters in, the wire request out.

Figures are clamped to what the contract accepts (a thermal sensor reading 200 °C must not
make the whole heartbeat a 422), and the kiosk's status says whether it can serve members.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contract.kiosk_api import HeartbeatRequest, KioskHealth, KioskStatus, ReaderReport
from kiosk_agent.core.machine import AgentState

MAX_LAST_ERROR = 4000
MAX_EXTRA_KEYS = 32


@dataclass(frozen=True, slots=True)
class SystemFigures:
    """The machine's figures (from ``hardware.sysinfo`` via the system adapter)."""

    cpu_percent: float | None = None
    cpu_temp_c: float | None = None
    load_1m: float | None = None
    memory_percent: float | None = None
    disk_percent: float | None = None
    """Usage of the disk holding the state folder."""
    disk_free_mb: float | None = None
    uptime_s: float | None = None
    network_ok: bool | None = None
    """A network interface other than loopback is up with an address."""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoreFigures:
    pending_sessions: int = 0
    pending_events: int = 0
    refused: int = 0
    size_mb: float = 0.0
    disk_nearly_full: bool = False
    ok: bool = True
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceFigures:
    reader_ok: bool | None = None
    reader_detail: str | None = None
    reader: ReaderReport | None = None
    mic_ok: bool | None = None


def _clamp(value: float | None, low: float, high: float) -> float | None:
    if value is None:
        return None
    return min(max(float(value), low), high)


def build_heartbeat(
    *,
    software_version: str,
    state: AgentState,
    system: SystemFigures,
    store: StoreFigures,
    devices: DeviceFigures,
    last_error: str | None,
    sent_at: datetime,
) -> HeartbeatRequest:
    """The heartbeat the kiosk sends now."""
    serving = store.ok and devices.reader_ok is not False
    status = KioskStatus.ONLINE if serving else KioskStatus.ERROR
    extra: dict[str, Any] = {
        "agent_state": state.value,
        "pending_sessions": store.pending_sessions,
        "pending_events": store.pending_events,
        "refused_records": store.refused,
        "store_size_mb": round(store.size_mb, 2),
    }
    if system.disk_free_mb is not None:
        extra["disk_free_mb"] = round(system.disk_free_mb, 1)
    if devices.reader_detail:
        extra["reader"] = devices.reader_detail[:500]
    if store.problem:
        extra["store_problem"] = store.problem[:500]
    for key, value in system.extra.items():
        if len(extra) >= MAX_EXTRA_KEYS:
            break
        extra.setdefault(key, value)
    health = KioskHealth(
        cpu_percent=_clamp(system.cpu_percent, 0, 100),
        cpu_temp_c=_clamp(system.cpu_temp_c, -50, 150),
        load_1m=_clamp(system.load_1m, 0, float("inf")),
        memory_percent=_clamp(system.memory_percent, 0, 100),
        disk_percent=_clamp(system.disk_percent, 0, 100),
        uptime_s=_clamp(system.uptime_s, 0, float("inf")),
        mic_ok=devices.mic_ok,
        reader_ok=devices.reader_ok,
        network_ok=system.network_ok,
        disk_nearly_full=store.disk_nearly_full,
        store_ok=store.ok,
        reader=devices.reader,
        extra=extra,
    )
    error = last_error
    if error is not None and len(error) > MAX_LAST_ERROR:
        error = error[: MAX_LAST_ERROR - 3] + "..."
    return HeartbeatRequest(
        status=status,
        software_version=software_version[:200],
        health=health,
        outbox_depth=store.pending_sessions + store.pending_events,
        last_error=error,
        sent_at=sent_at,
    )
