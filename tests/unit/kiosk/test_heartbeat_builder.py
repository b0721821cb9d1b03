"""Building the heartbeat from gathered figures."""

from __future__ import annotations

from datetime import UTC, datetime

from contract.kiosk_api import HeartbeatRequest, KioskStatus
from kiosk_agent.core.heartbeat import DeviceFigures, StoreFigures, SystemFigures, build_heartbeat
from kiosk_agent.core.machine import AgentState

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def beat(**overrides: object) -> HeartbeatRequest:
    values: dict[str, object] = {
        "software_version": "1.2.3",
        "state": AgentState.IDLE,
        "system": SystemFigures(
            cpu_percent=12.5,
            cpu_temp_c=48.2,
            memory_percent=40.0,
            disk_percent=55.0,
            disk_free_mb=2048.0,
            uptime_s=3600.0,
            load_1m=0.4,
            network_ok=True,
        ),
        "store": StoreFigures(pending_sessions=3, pending_events=2, refused=1, size_mb=1.5),
        "devices": DeviceFigures(reader_ok=True, reader_detail="evdev:/dev/input/by-id/x"),
        "last_error": None,
        "sent_at": NOW,
    }
    values.update(overrides)
    return build_heartbeat(**values)  # type: ignore[arg-type]


def test_the_heartbeat_carries_the_figures_and_the_outbox_depth() -> None:
    request = beat()
    assert request.status is KioskStatus.ONLINE
    assert request.outbox_depth == 5
    assert request.software_version == "1.2.3"
    health = request.health
    assert (health.cpu_percent, health.cpu_temp_c, health.load_1m) == (12.5, 48.2, 0.4)
    assert (health.reader_ok, health.network_ok, health.store_ok) == (True, True, True)
    assert health.extra["agent_state"] == "idle"
    assert health.extra["refused_records"] == 1
    assert health.extra["disk_free_mb"] == 2048.0
    assert request.sent_at == NOW


def test_impossible_readings_are_clamped_instead_of_refused() -> None:
    request = beat(system=SystemFigures(cpu_percent=180.0, cpu_temp_c=400.0, memory_percent=-3))
    assert request.health.cpu_percent == 100
    assert request.health.cpu_temp_c == 150
    assert request.health.memory_percent == 0


def test_a_kiosk_that_cannot_keep_records_or_read_badges_reports_an_error() -> None:
    bad_store = beat(store=StoreFigures(ok=False, problem="disk full", disk_nearly_full=True))
    assert bad_store.status is KioskStatus.ERROR
    assert bad_store.health.store_ok is False
    assert bad_store.health.disk_nearly_full is True
    assert bad_store.health.extra["store_problem"] == "disk full"
    no_reader = beat(devices=DeviceFigures(reader_ok=False, reader_detail="unplugged"))
    assert no_reader.status is KioskStatus.ERROR


def test_a_long_last_error_is_shortened_to_what_the_cloud_accepts() -> None:
    request = beat(last_error="x" * 10_000)
    assert request.last_error is not None
    assert len(request.last_error) == 4000
    assert request.last_error.endswith("...")


def test_extra_figures_never_exceed_the_contracts_limit() -> None:
    many = {f"k{i}": i for i in range(100)}
    request = beat(system=SystemFigures(extra=many))
    assert len(request.health.extra) == 32
