"""The overview page: today's and this week's conversations, members, alerts, kiosks, spend.

"Today" is each gym's own calendar day (its timezone); "this week" the last seven days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from psycopg import sql

from cloud_api.data.dashboard.common import Scope, fetch_all, fetch_one, gym_filter
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


# Per gym (LATERAL, so each count is an index range scan on that gym's rows), then summed.
COUNTS_SQL = """
select count(*) as gyms,
       coalesce(sum(t.sessions), 0) as sessions_today,
       coalesce(sum(t.spend), 0) as spend_today,
       coalesce(sum(w.sessions), 0) as sessions_week,
       coalesce(sum(m.total), 0) as members_total,
       coalesce(sum(m.active), 0) as members_active,
       coalesce(sum(k.total), 0) as kiosks_total,
       coalesce(sum(k.online), 0) as kiosks_online
from gyms g
cross join lateral (
    select count(*) as sessions, sum(s.cost_usd) as spend
    from realtime_sessions s
    where s.gym_id = g.id
      and s.started_at >= date_trunc('day', now() at time zone g.timezone) at time zone g.timezone
) t
cross join lateral (
    select count(*) as sessions from realtime_sessions s
    where s.gym_id = g.id and s.started_at >= now() - interval '7 days'
) w
cross join lateral (
    select count(*) filter (where m.is_active) as total,
           count(*) filter (where m.is_active and m.last_visit >= now() - interval '30 days')
               as active
    from gym_members m where m.gym_id = g.id
) m
cross join lateral (
    select count(*) as total, count(*) filter (where k.status = 'online') as online
    from kiosks k where k.gym_id = g.id
) k
where true {gym}
"""

ALERTS_SQL = """
select a.priority, count(*) as n
from manager_alerts a
where a.status in ('pending', 'in_progress') {gym}
group by a.priority
"""


async def overview(conn: Conn, scope: Scope) -> Overview:
    row = await fetch_one(conn, sql.SQL(COUNTS_SQL).format(gym=gym_filter("g.id", scope)))
    assert row is not None
    alerts = await fetch_all(conn, sql.SQL(ALERTS_SQL).format(gym=gym_filter("a.gym_id", scope)))
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
