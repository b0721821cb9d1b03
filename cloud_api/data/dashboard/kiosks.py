"""Kiosks as the dashboard shows them: status, last heartbeat and its health, the fleet.

Creating a kiosk, issuing a code and revoking are cloud_api.kiosks (shared with the CLI).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import sql

from cloud_api.data.dashboard.common import Scope, fetch_all, fetch_one, gym_filter
from cloud_api.db.database import Conn

KIOSK_SQL = """
select k.id, k.gym_id, k.slug, k.name, k.status, k.last_heartbeat, k.last_seen_ip,
       k.software_version, k.location_in_gym, k.language, k.voice_model, k.openai_model,
       k.hardware_info, k.provisioned_at, k.device_id,
       k.provisioning_code_expires_at, k.provisioning_code_used_at,
       (k.provisioning_code_hash is not null and k.provisioning_code_used_at is null
        and k.provisioning_code_expires_at > now()) as code_pending,
       extract(epoch from now() - k.last_heartbeat)::int as silent_s,
       g.slug as gym_slug, g.name as gym_name,
       h.cpu_temp_c, h.disk_percent, h.memory_percent, h.mic_ok, h.reader_ok, h.network_ok,
       h.outbox_depth, h.last_error
from kiosks k
join gyms g on g.id = k.gym_id
left join lateral (
    select * from kiosk_heartbeats h where h.kiosk_id = k.id order by h.received_at desc limit 1
) h on true
"""


def _health(row: dict[str, Any]) -> list[str]:
    """What is wrong with a kiosk, in words (empty: healthy)."""
    problems = []
    if row.get("mic_ok") is False:
        problems.append("microphone not working")
    if row.get("reader_ok") is False:
        problems.append("badge reader not working")
    if row.get("network_ok") is False:
        problems.append("network trouble")
    if (row.get("cpu_temp_c") or 0) >= 75:
        problems.append(f"hot ({row['cpu_temp_c']:.0f} °C)")
    if (row.get("disk_percent") or 0) >= 90:
        problems.append(f"disk {row['disk_percent']:.0f} % full")
    if (row.get("outbox_depth") or 0) >= 20:
        problems.append(f"{row['outbox_depth']} records waiting to upload")
    if row.get("last_error"):
        problems.append(f"last error: {row['last_error']}")
    return problems


def _view(row: Any) -> dict[str, Any]:
    kiosk = dict(row)
    kiosk["problems"] = _health(kiosk)
    return kiosk


async def list_kiosks(conn: Conn, scope: Scope) -> list[dict[str, Any]]:
    query = sql.SQL(KIOSK_SQL + " where true {gym} order by g.name, k.name").format(
        gym=gym_filter("k.gym_id", scope)
    )
    return [_view(r) for r in await fetch_all(conn, query)]


async def get_kiosk(conn: Conn, kiosk_id: UUID) -> dict[str, Any] | None:
    row = await fetch_one(conn, KIOSK_SQL + " where k.id = %s", (kiosk_id,))
    return _view(row) if row else None


async def recent_heartbeats(conn: Conn, kiosk_id: UUID, limit: int = 20) -> list[dict[str, Any]]:
    rows = await fetch_all(
        conn,
        "select received_at, status, software_version, cpu_percent, cpu_temp_c, memory_percent, "
        "disk_percent, mic_ok, reader_ok, network_ok, outbox_depth, last_error "
        "from kiosk_heartbeats where kiosk_id = %s order by received_at desc limit %s",
        (kiosk_id, limit),
    )
    return [dict(r) for r in rows]


async def recent_events(conn: Conn, kiosk_id: UUID, limit: int = 20) -> list[dict[str, Any]]:
    rows = await fetch_all(
        conn,
        "select occurred_at, kind, badge_id, detail from kiosk_events where kiosk_id = %s "
        "order by occurred_at desc limit %s",
        (kiosk_id, limit),
    )
    return [dict(r) for r in rows]


FLEET_SQL = """
select count(*) as total,
       count(*) filter (where k.status = 'online') as online,
       count(*) filter (where k.status = 'offline') as offline,
       count(*) filter (where k.status = 'error') as error,
       count(*) filter (where k.status = 'provisioning') as provisioning
from kiosks k
"""


async def fleet(conn: Conn) -> dict[str, Any]:
    """Fleet monitoring: counts by status, versions in service, kiosks with problems."""
    counts = await fetch_one(conn, FLEET_SQL)
    versions = await fetch_all(
        conn,
        "select coalesce(software_version, 'unknown') as version, count(*) as kiosks "
        "from kiosks where provisioned_at is not null group by 1 order by 2 desc",
    )
    troubled = [
        k
        for k in (
            _view(r)
            for r in await fetch_all(
                conn,
                KIOSK_SQL + " where k.status in ('offline', 'error') or h.last_error is not null "
                "or h.mic_ok is false or h.reader_ok is false or h.network_ok is false "
                "order by k.last_heartbeat nulls first limit 100",
            )
        )
    ]
    errors = await fetch_all(
        conn,
        "select e.occurred_at, e.kind, e.detail, k.name as kiosk_name, g.name as gym_name "
        "from kiosk_events e join kiosks k on k.id = e.kiosk_id join gyms g on g.id = e.gym_id "
        "where e.kind in ('agent_error', 'session_refused') "
        "and e.occurred_at > now() - interval '24 hours' order by e.occurred_at desc limit 50",
    )
    return {
        "counts": dict(counts) if counts else {},
        "versions": [dict(v) for v in versions],
        "troubled": troubled,
        "errors": [dict(e) for e in errors],
    }
