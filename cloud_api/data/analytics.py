"""Members' analytics, churn risk, conversation summaries and weekly reports, read under the
caller's claims (RLS decides which gyms they see). For the dashboards."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from cloud_api.db.database import Conn

LEVELS = ("critical", "high", "medium", "low")


async def members_at_risk(
    conn: Conn, *, gym_id: UUID | None = None, levels: tuple[str, ...] = LEVELS[:2], limit: int = 50
) -> list[dict[str, Any]]:
    """Members by churn risk, highest first, with the factors behind it."""
    cur = await conn.execute(
        "select m.id as member_id, m.gym_id, m.first_name, m.last_name, "
        "a.churn_risk_score, a.churn_risk_level, a.churn_factors, a.engagement_score, "
        "a.days_since_last_visit, a.avg_sentiment_score, a.sentiment_trend, "
        "a.total_conversations, a.last_conversation_at "
        "from (select * from member_analytics_live where churn_risk_level = any(%s) "
        "      and (%s::uuid is null or gym_id = %s) "
        "      order by churn_risk_score desc nulls last limit %s) a "
        "join gym_members m on m.id = a.member_id "
        "order by a.churn_risk_score desc nulls last",
        (list(levels), gym_id, gym_id, limit),
    )
    return list(await cur.fetchall())


async def member_analytics(conn: Conn, member_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select * from member_analytics_live where member_id = %s", (member_id,)
    )
    row = await cur.fetchone()
    return dict(row) if row else None


async def member_conversations(
    conn: Conn, member_id: UUID, limit: int = 20
) -> list[dict[str, Any]]:
    """A member's analysed conversations, newest first (no embedding)."""
    cur = await conn.execute(
        "select c.session_id, s.started_at, s.duration_seconds, c.summary_text, c.key_topics, "
        "c.sentiment_score, c.sentiment_label, c.emotion_detected, c.intents_detected, "
        "c.action_items, c.analyzer, c.status "
        "from conversation_summaries c join realtime_sessions s on s.id = c.session_id "
        "where c.member_id = %s order by s.started_at desc limit %s",
        (member_id, limit),
    )
    return list(await cur.fetchall())


async def gym_overview(conn: Conn, gym_id: UUID) -> dict[str, Any]:
    """The dashboard's KPIs for one gym: members by churn level, mood, open alerts."""
    cur = await conn.execute(
        "select "
        "(select count(*) from gym_members where gym_id = %(g)s) as members, "
        "(select jsonb_object_agg(level, n) from (select churn_risk_level as level, count(*) as n "
        "  from member_analytics where gym_id = %(g)s group by 1) l) as members_by_churn_level, "
        "(select round(avg(engagement_score), 2) from member_analytics_live where gym_id = %(g)s) "
        "  as avg_engagement, "
        "(select round(avg(sentiment_score), 2) from conversation_summaries "
        "  where gym_id = %(g)s and processed_at > now() - interval '7 days') as sentiment_7d, "
        "(select count(*) from manager_alerts where gym_id = %(g)s "
        "  and status in ('pending', 'in_progress')) as open_alerts",
        {"g": gym_id},
    )
    row = await cur.fetchone()
    return dict(row) if row else {}


async def insights_reports(
    conn: Conn, *, gym_id: UUID | None = None, franchise_id: UUID | None = None, limit: int = 12
) -> list[dict[str, Any]]:
    """Published reports the caller may read, newest first (gym or franchise scope)."""
    cur = await conn.execute(
        "select id, gym_id, franchise_id, report_type, period_start, period_end, title, summary, "
        "insights, metrics, recommendations, trends, status, published_at from insights_reports "
        "where status = 'published' and (%s::uuid is null or gym_id = %s) "
        "and (%s::uuid is null or (franchise_id = %s and gym_id is null)) "
        "order by period_start desc limit %s",
        (gym_id, gym_id, franchise_id, franchise_id, limit),
    )
    return list(await cur.fetchall())


async def daily_costs(
    conn: Conn, *, since: Any, franchise_id: UUID | None = None
) -> list[dict[str, Any]]:
    """Spend per gym and day since a date (a franchise's gyms when given)."""
    cur = await conn.execute(
        "select d.gym_id, g.franchise_id, d.day, d.sessions, d.analyses, d.realtime_usd, "
        "d.analysis_usd, d.realtime_usd + d.analysis_usd as total_usd "
        "from cost_daily d join gyms g on g.id = d.gym_id "
        "where d.day >= %s and (%s::uuid is null or g.franchise_id = %s) order by d.day, d.gym_id",
        (since, franchise_id, franchise_id),
    )
    return list(await cur.fetchall())
