"""Members: the searchable list (keyset pages, any size) and one member's page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import sql
from pydantic import BaseModel, ConfigDict

from cloud_api.data.dashboard.common import (
    Scope,
    decode_cursor,
    encode_cursor,
    fetch_all,
    fetch_one,
    gym_filter,
)
from cloud_api.db.database import Conn
from contract.badge import BadgeIdError, normalize_badge_id

PAGE_SIZE = 50

# Every sort is a tuple of ascending keys (descending ones negated) ending with the id, so
# one row comparison `(keys) > (cursor)` continues any of them.
SORTS: dict[str, tuple[str, ...]] = {
    "churn": ("-coalesce(a.churn_risk_score, -1)", "m.id"),
    "engagement": ("coalesce(a.engagement_score, 2)", "m.id"),
    "engaged": ("-coalesce(a.engagement_score, -1)", "m.id"),
    "name": ("lower(coalesce(m.last_name, ''))", "lower(m.first_name)", "m.id"),
    "last_visit": ("-coalesce(extract(epoch from m.last_visit), 0)", "m.id"),
}
RISK_LEVELS = ("low", "medium", "high", "critical")
STATUSES = ("active", "suspended", "expired")
ENGAGEMENT_BANDS = {"low": (0, 0.3), "medium": (0.3, 0.7), "high": (0.7, 1.01)}


@dataclass(frozen=True)
class MemberFilters:
    q: str = ""
    risk: str = ""
    status: str = ""
    engagement: str = ""
    sort: str = "churn"


class MemberRow(BaseModel):
    """One line of the members list (also the JSON API's shape)."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    gym_slug: str
    gym_name: str
    first_name: str
    last_name: str | None
    badge_id: str
    is_active: bool
    membership_expires_on: date | None
    last_visit: datetime | None
    churn_risk_score: Decimal | None
    churn_risk_level: str | None
    engagement_score: Decimal | None
    total_conversations: int | None
    sentiment_trend: str | None

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name or ''}".strip()


@dataclass(frozen=True)
class MemberPage:
    rows: list[MemberRow]
    next_cursor: str | None


def _where(filters: MemberFilters) -> tuple[list[sql.Composable], dict[str, Any]]:
    clauses: list[sql.Composable] = []
    params: dict[str, Any] = {}
    q = filters.q.strip()
    if q:
        params["q"] = f"%{q}%"
        text: sql.Composable = sql.SQL(
            "((m.first_name || ' ' || coalesce(m.last_name, '')) ilike %(q)s "
            "or coalesce(m.email, '') ilike %(q)s or m.external_id = %(q_exact)s"
        )
        params["q_exact"] = q
        try:
            params["badge"] = normalize_badge_id(q)
            text += sql.SQL(" or m.badge_id = %(badge)s")
        except BadgeIdError:
            pass
        clauses.append(text + sql.SQL(")"))
    if filters.risk in RISK_LEVELS:
        clauses.append(sql.SQL("a.churn_risk_level = {}").format(sql.Literal(filters.risk)))
    if filters.status == "active":
        clauses.append(
            sql.SQL("m.is_active and coalesce(m.membership_expires_on >= current_date, true)")
        )
    elif filters.status == "suspended":
        clauses.append(sql.SQL("not m.is_active"))
    elif filters.status == "expired":
        clauses.append(sql.SQL("m.membership_expires_on < current_date"))
    if filters.engagement in ENGAGEMENT_BANDS:
        low, high = ENGAGEMENT_BANDS[filters.engagement]
        clauses.append(
            sql.SQL("a.engagement_score >= {} and a.engagement_score < {}").format(
                sql.Literal(low), sql.Literal(high)
            )
        )
    return clauses, params


ROW_COLUMNS = (
    "m.id, g.slug as gym_slug, g.name as gym_name, m.first_name, m.last_name, m.badge_id, "
    "m.is_active, m.membership_expires_on, m.last_visit, a.churn_risk_score, "
    "a.churn_risk_level, a.engagement_score, a.total_conversations, a.sentiment_trend"
)
# Sorts on an analytics figure, and that figure's column: ranked on member_analytics first.
RANKED = {
    "churn": "churn_risk_score",
    "engagement": "engagement_score",
    "engaged": "engagement_score",
}


def _keys_sql(keys: tuple[str, ...]) -> sql.Composable:
    return sql.SQL(", ").join(
        sql.SQL("{} as {}").format(sql.SQL(k), sql.Identifier(f"k{i}")) for i, k in enumerate(keys)
    )


def _after(keys: tuple[str, ...], values: list[Any] | None) -> sql.Composable:
    """`and (keys) > (cursor)`: continue after the cursor's row (every key ascending)."""
    if values is None:
        return sql.SQL("")
    return sql.SQL(" and ({}) > ({})").format(
        sql.SQL(", ").join(sql.SQL(k) for k in keys),
        sql.SQL(", ").join(sql.Literal(v) for v in values),
    )


async def list_members(
    conn: Conn, scope: Scope, filters: MemberFilters, cursor: str | None = None
) -> MemberPage:
    keys = SORTS.get(filters.sort, SORTS["churn"])
    values = decode_cursor(cursor, len(keys)) if cursor else None
    if filters.sort in RANKED and not filters.q and not filters.status and scope is not None:
        rows = await _ranked(conn, scope, filters, keys, values)
    else:
        rows = await _joined(conn, scope, filters, keys, values)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    next_cursor = (
        encode_cursor([rows[-1][f"k{i}"] for i in range(len(keys))]) if more and rows else None
    )
    return MemberPage([MemberRow.model_validate(r) for r in rows], next_cursor)


async def _joined(
    conn: Conn, scope: Scope, filters: MemberFilters, keys: tuple[str, ...], values: Any
) -> list[dict[str, Any]]:
    """Every member of the scope joined with their analytics, then sorted: any filter."""
    clauses, params = _where(filters)
    where = sql.SQL("").join(sql.SQL(" and ") + c for c in clauses)
    query = sql.SQL(
        "select {columns}, {keys} from gym_members m join gyms g on g.id = m.gym_id "
        "left join member_analytics_live a on a.member_id = m.id "
        "where true {gym}{where}{after} order by {order} limit {limit}"
    ).format(
        columns=sql.SQL(ROW_COLUMNS),
        keys=_keys_sql(keys),
        gym=gym_filter("m.gym_id", scope),
        where=where,
        after=_after(keys, values),
        order=sql.SQL(", ").join(sql.SQL(k) for k in keys),
        limit=sql.Literal(PAGE_SIZE + 1),
    )
    return [dict(r) for r in await fetch_all(conn, query, params)]


async def _ranked(
    conn: Conn, scope: tuple[UUID, ...], filters: MemberFilters, keys: tuple[str, ...], values: Any
) -> list[dict[str, Any]]:
    """Sorted by an analytics figure: rank on the analytics first (each gym's best: through
    its index for churn; engagement is computed as of now over the gym's rows), then join
    only the winners. Members whose figure is unknown (not analysed
    yet) sort after every known one, so they are read only once the known ones run out."""
    column = RANKED[filters.sort]
    on_analytics = tuple(k.replace("m.id", "a.member_id") for k in keys)  # m.id = a.member_id
    clauses, params = _where(filters)  # only analytics filters here (no search, no status)
    where = sql.SQL("").join(sql.SQL(" and ") + c for c in clauses)
    limit = sql.Literal(PAGE_SIZE + 1)
    ranked = sql.SQL(
        "select r.member_id from unnest({gyms}::uuid[]) as scope(gym_id) "
        "cross join lateral (select a.member_id, {keys} from member_analytics_live a "
        "  where a.gym_id = scope.gym_id and a.{column} is not null {where}{after} "
        "  order by {order} limit {limit}) r "
        "order by {outer} limit {limit}"
    ).format(
        gyms=sql.Literal(list(scope)),
        keys=_keys_sql(on_analytics),
        column=sql.Identifier(column),
        where=where,
        after=_after(on_analytics, values),
        order=sql.SQL(", ").join(sql.SQL(k) for k in on_analytics),
        outer=sql.SQL(", ").join(sql.Identifier(f"k{i}") for i in range(len(keys))),
        limit=limit,
    )
    ids = [r["member_id"] for r in await fetch_all(conn, ranked, params)]
    rows: list[dict[str, Any]] = []
    if ids:
        query = sql.SQL(
            "select {columns}, {keys} from gym_members m join gyms g on g.id = m.gym_id "
            "join member_analytics_live a on a.member_id = m.id where m.id = any({ids}::uuid[]) "
            "order by {order}"
        ).format(
            columns=sql.SQL(ROW_COLUMNS),
            keys=_keys_sql(keys),
            ids=sql.Literal(ids),
            order=sql.SQL(", ").join(sql.SQL(k) for k in keys),
        )
        rows = [dict(r) for r in await fetch_all(conn, query)]
    if len(rows) > PAGE_SIZE or clauses:
        return rows  # a full page, or a filter on the figure: unknown figures never match
    # The known figures ran out: the members whose figure is unknown come next.
    unknown = sql.SQL(
        "select {columns}, {keys} from gym_members m join gyms g on g.id = m.gym_id "
        "left join member_analytics_live a on a.member_id = m.id "
        "where a.{column} is null {gym}{after} order by {order} limit {limit}"
    ).format(
        columns=sql.SQL(ROW_COLUMNS),
        keys=_keys_sql(keys),
        column=sql.Identifier(column),
        gym=gym_filter("m.gym_id", scope),
        after=_after(keys, values),
        order=sql.SQL(", ").join(sql.SQL(k) for k in keys),
        limit=sql.Literal(PAGE_SIZE + 1 - len(rows)),
    )
    return rows + [dict(r) for r in await fetch_all(conn, unknown)]


@dataclass(frozen=True)
class MemberDetail:
    member: dict[str, Any]
    analytics: dict[str, Any] | None
    conversations: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)


MEMBER_SQL = """
select m.*, g.slug as gym_slug, g.name as gym_name,
       f.height_cm, f.current_weight_kg, f.target_weight_kg, f.fitness_level, f.primary_goals,
       f.workout_frequency_per_week, f.injuries,
       p.language, p.communication_style, p.voice_preference
from gym_members m
join gyms g on g.id = m.gym_id
left join member_fitness_profile f on f.member_id = m.id
left join member_preferences p on p.member_id = m.id
where m.id = %s
"""

CONVERSATIONS_SQL = """
select s.id, s.started_at, s.duration_seconds, s.end_reason, s.cost_usd, s.turn_count,
       c.summary_text, c.sentiment_label, c.sentiment_score, c.key_topics,
       c.status as summary_status
from realtime_sessions s
left join conversation_summaries c on c.session_id = s.id
where s.member_id = %s
order by s.started_at desc
limit 10
"""


async def member_detail(conn: Conn, member_id: UUID) -> MemberDetail | None:
    member = await fetch_one(conn, MEMBER_SQL, (member_id,))
    if member is None:
        return None
    analytics = await fetch_one(
        conn, "select * from member_analytics_live where member_id = %s", (member_id,)
    )
    conversations = await fetch_all(conn, CONVERSATIONS_SQL, (member_id,))
    alerts = await fetch_all(
        conn,
        "select id, title, priority, status, alert_type, created_at from manager_alerts "
        "where member_id = %s order by created_at desc limit 10",
        (member_id,),
    )
    return MemberDetail(
        dict(member),
        dict(analytics) if analytics else None,
        [dict(c) for c in conversations],
        [dict(a) for a in alerts],
    )
