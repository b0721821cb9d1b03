"""The figures behind the charts: sessions, sentiment and cost per day, churn distribution,
weekly insight reports, and the franchise's side-by-side comparison of its gyms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import sql

from cloud_api.data.dashboard.common import Scope, fetch_all, fetch_one, gym_filter
from cloud_api.db.database import Conn

# `since` is a timestamptz: compared with a date, the index on (gym_id, started_at) would only
# serve the gym and every session of the gym would be read.
DAILY_SQL = """
select d.day,
       coalesce(x.sessions, 0) as sessions,
       coalesce(x.cost, 0) as cost_usd,
       x.sentiment
from generate_series({since}::date, {since}::date + {span}, interval '1 day') as d(day)
left join (
    select (s.started_at at time zone 'UTC')::date as day, count(*) as sessions,
           sum(s.cost_usd) as cost, avg(c.sentiment_score) as sentiment
    from realtime_sessions s
    left join conversation_summaries c on c.session_id = s.id
    where s.started_at >= {since} {gym}
    group by 1
) x on x.day = d.day::date
order by d.day
"""


def days_back(days: int) -> datetime:
    """UTC midnight `days - 1` days ago: the first of the last `days` days."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days - 1)


async def daily(conn: Conn, scope: Scope, days: int = 30) -> list[dict[str, Any]]:
    """One row per UTC day of the last `days` days: sessions, cost (USD), mean sentiment."""
    query = sql.SQL(DAILY_SQL).format(
        since=sql.Literal(days_back(days)),
        span=sql.Literal(days - 1),
        gym=gym_filter("s.gym_id", scope),
    )
    rows = await fetch_all(conn, query)
    return [
        {
            "day": r["day"].date() if hasattr(r["day"], "date") else r["day"],
            "sessions": int(r["sessions"]),
            "cost_usd": Decimal(r["cost_usd"]),
            "sentiment": None if r["sentiment"] is None else float(r["sentiment"]),
        }
        for r in rows
    ]


CHURN_SQL = """
select coalesce(a.churn_risk_level, 'unknown') as level, count(*) as members
from member_analytics a
where true {gym}
group by 1
"""
CHURN_LEVELS = ("low", "medium", "high", "critical")


async def churn_distribution(conn: Conn, scope: Scope) -> dict[str, int]:
    rows = await fetch_all(conn, sql.SQL(CHURN_SQL).format(gym=gym_filter("a.gym_id", scope)))
    counts = {level: 0 for level in CHURN_LEVELS}
    for r in rows:
        if r["level"] in counts:
            counts[r["level"]] = int(r["members"])
    return counts


async def insights(conn: Conn, gym_id: UUID | None, limit: int = 12) -> list[dict[str, Any]]:
    """Published insight reports, newest first: the gym's, and the franchise's own."""
    query = sql.SQL(
        "select r.*, g.name as gym_name, f.name as franchise_name from insights_reports r "
        "left join gyms g on g.id = r.gym_id left join franchises f on f.id = r.franchise_id "
        "where r.status = 'published' {gym} order by r.period_end desc, g.name nulls first "
        "limit {limit}"
    ).format(
        gym=sql.SQL("")
        if gym_id is None
        else sql.SQL(" and r.gym_id = {}").format(sql.Literal(gym_id)),
        limit=sql.Literal(limit),
    )
    return [dict(r) for r in await fetch_all(conn, query)]


async def insight(conn: Conn, report_id: UUID) -> dict[str, Any] | None:
    row = await fetch_one(
        conn,
        "select r.*, g.name as gym_name, f.name as franchise_name from insights_reports r "
        "left join gyms g on g.id = r.gym_id left join franchises f on f.id = r.franchise_id "
        "where r.id = %s",
        (report_id,),
    )
    return dict(row) if row else None


COMPARISON_SQL = """
select g.id, g.slug, g.name, g.city, g.status,
       (select count(*) from gym_members m where m.gym_id = g.id and m.is_active) as members,
       (select count(*) from realtime_sessions s
         where s.gym_id = g.id and s.started_at >= %(since)s) as sessions,
       (select coalesce(sum(s.cost_usd), 0) from realtime_sessions s
         where s.gym_id = g.id and s.started_at >= %(since)s) as cost_usd,
       a.engagement, a.churn, a.at_risk,
       (select count(*) from manager_alerts x
         where x.gym_id = g.id and x.status in ('pending', 'in_progress')) as open_alerts,
       (select count(*) from kiosks k where k.gym_id = g.id and k.status = 'online')
         as kiosks_online,
       (select count(*) from kiosks k where k.gym_id = g.id) as kiosks
from gyms g
left join lateral (
    select avg(a.engagement_score) as engagement, avg(a.churn_risk_score) as churn,
           count(*) filter (where a.churn_risk_level in ('high', 'critical')) as at_risk
    from member_analytics_live a where a.gym_id = g.id
) a on true
order by g.name
limit %(limit)s
"""


async def gym_comparison(conn: Conn, days: int = 30, limit: int = 200) -> list[dict[str, Any]]:
    """Every visible gym side by side over the last `days` days."""
    rows = await fetch_all(conn, COMPARISON_SQL, {"since": days_back(days), "limit": limit})
    return [dict(r) for r in rows]
