"""The overview page: today's and this week's conversations, members, alerts, kiosks, spend.

"Today" is each gym's own calendar day (its timezone); "this week" the last seven days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from uuid import UUID

from psycopg import sql

from cloud_api.data.dashboard.common import fetch_all, fetch_one, gym_filter
from cloud_api.db.database import Conn

PRIORITIES = ("urgent", "high", "medium", "low")


@dataclass(frozen=True)
class Overview:
    gyms: int
    sessions_today: int
    sessions_week: int
    members_active: int  # came in the last 30 days
    members_total: int
    kiosks_online: int
    kiosks_total: int
    spend_today_usd: Decimal
    open_alerts: dict[str, int] = field(default_factory=dict)

    @property
    def open_alerts_total(self) -> int:
        return sum(self.open_alerts.values())


COUNTS_SQL = """
with scope as (
    select g.id,
           date_trunc('day', now() at time zone g.timezone) at time zone g.timezone as day_start
    from gyms g where true {gym}
)
select
    (select count(*) from scope) as gyms,
    (select count(*) from scope join realtime_sessions s
        on s.gym_id = scope.id and s.started_at >= scope.day_start) as sessions_today,
    (select coalesce(sum(s.cost_usd), 0) from scope join realtime_sessions s
        on s.gym_id = scope.id and s.started_at >= scope.day_start) as spend_today,
    (select count(*) from scope join realtime_sessions s
        on s.gym_id = scope.id and s.started_at >= now() - interval '7 days') as sessions_week,
    (select count(*) from scope join gym_members m on m.gym_id = scope.id
        where m.is_active) as members_total,
    (select count(*) from scope join gym_members m on m.gym_id = scope.id
        where m.is_active and m.last_visit >= now() - interval '30 days') as members_active,
    (select count(*) from scope join kiosks k on k.gym_id = scope.id) as kiosks_total,
    (select count(*) from scope join kiosks k on k.gym_id = scope.id
        where k.status = 'online') as kiosks_online
"""

ALERTS_SQL = """
select a.priority, count(*) as n
from manager_alerts a
where a.status in ('pending', 'in_progress') {gym}
group by a.priority
"""


async def overview(conn: Conn, gym_id: UUID | None) -> Overview:
    row = await fetch_one(conn, sql.SQL(COUNTS_SQL).format(gym=gym_filter("g.id", gym_id)))
    assert row is not None
    alerts = await fetch_all(conn, sql.SQL(ALERTS_SQL).format(gym=gym_filter("a.gym_id", gym_id)))
    by_priority = {p: 0 for p in PRIORITIES}
    by_priority.update({r["priority"]: int(r["n"]) for r in alerts})
    return Overview(
        gyms=int(row["gyms"]),
        sessions_today=int(row["sessions_today"]),
        sessions_week=int(row["sessions_week"]),
        members_active=int(row["members_active"]),
        members_total=int(row["members_total"]),
        kiosks_online=int(row["kiosks_online"]),
        kiosks_total=int(row["kiosks_total"]),
        spend_today_usd=Decimal(row["spend_today"]),
        open_alerts=by_priority,
    )
