"""`jarvis-cloud db seed --scale N`: deterministic bulk data for benchmarks.

N gyms (one franchise per ten gyms; every tenth gym independent), one kiosk, one manager and
one staff account per gym, one owner per franchise, `members_per_gym` members and
`sessions_per_member` sessions each over the 90 days before the epoch. Member analytics,
churn and churn alerts are then derived by the pipeline's own SQL
(private.refresh_member_analytics and private.job_daily_churn, as of the epoch); sessions are not analysed (ten million analyses are what the analysis
benchmark measures, not what a seed should wait for). The
rows are generated inside Postgres (`generate_series`, values derived from md5/hashtext of
stable keys), so the same N always gives the same data and 1,000 gyms / 1,000,000 members /
10,000,000 sessions fit this machine. Work is committed per chunk of gyms with a progress
bar; running it again resumes where it stopped and adds nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from tqdm import tqdm

CHUNK_GYMS = 10


@dataclass(frozen=True)
class ScalePlan:
    gyms: int
    members_per_gym: int = 1000
    sessions_per_member: int = 10
    # Anchor for every generated timestamp, so reruns produce identical rows.
    epoch: datetime = datetime(2026, 11, 1, tzinfo=UTC)

    def __post_init__(self) -> None:
        if self.gyms < 1 or self.members_per_gym < 1 or self.sessions_per_member < 0:
            raise ValueError("--scale needs at least one gym and one member per gym")


@dataclass(frozen=True)
class ScaleResult:
    gyms: int
    members: int
    sessions: int
    seconds: float

    def __str__(self) -> str:
        return (
            f"scale data: {self.gyms:,} gyms, {self.members:,} members, "
            f"{self.sessions:,} sessions (seeded in {self.seconds:.1f} s)"
        )


def gym_slug(n: int) -> str:
    return f"scale-gym-{n:05d}"


def seed_scale(conninfo: str, plan: ScalePlan, *, progress: bool = False) -> ScaleResult:
    started = datetime.now(UTC)
    with psycopg.connect(conninfo) as conn:
        conn.execute("set synchronous_commit = off")
        done = _gyms_done(conn)
        with tqdm(
            total=plan.gyms,
            initial=min(done, plan.gyms),
            unit="gym",
            disable=not progress,
            desc="seeding",
        ) as bar:
            for first in range(done + 1, plan.gyms + 1, CHUNK_GYMS):
                last = min(first + CHUNK_GYMS - 1, plan.gyms)
                with conn.transaction():
                    _seed_chunk(conn, plan, first, last)
                bar.update(last - first + 1)
        if done < plan.gyms:  # something was added: derive (again) what depends on it
            with conn.transaction():
                # The pipeline's own SQL, as of the epoch: every member's analytics rebuilt from
                # their sessions (what each session's chain does for one member), then the
                # daily churn job (churn alerts). Triggers off as for the bulk rows: no
                # delivery job per alert.
                conn.execute("set local session_replication_role = replica")
                conn.execute("select private.refresh_member_analytics(null, %s)", (plan.epoch,))
                conn.execute("select * from private.job_daily_churn(%s)", (plan.epoch,))
        counts = conn.execute(
            "select (select count(*) from gyms where slug like 'scale-gym-%%'),"
            " (select count(*) from gym_members m join gyms g on g.id = m.gym_id"
            "   where g.slug like 'scale-gym-%%'),"
            " (select count(*) from realtime_sessions s join gyms g on g.id = s.gym_id"
            "   where g.slug like 'scale-gym-%%')"
        ).fetchone()
        assert counts is not None
    seconds = (datetime.now(UTC) - started).total_seconds()
    return ScaleResult(counts[0], counts[1], counts[2], seconds)


def _gyms_done(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "select coalesce(max(substr(slug, 11)::int), 0) from gyms where slug like 'scale-gym-%%'"
    ).fetchone()
    return int(row[0]) if row else 0


# Deterministic ids: md5 of a stable key, read as a uuid.
_SQL_CHUNK = """
with params as (
    select %(first)s::int as first_gym, %(last)s::int as last_gym,
           %(members)s::int as members, %(sessions)s::int as sessions,
           %(epoch)s::timestamptz as epoch
),
franchises_new as (
    insert into franchises (id, slug, name, city, status, subscription_plan)
    select md5('scale:franchise:' || f)::uuid, 'scale-franchise-' || lpad(f::text, 4, '0'),
           'Scale Franchise ' || f, 'City ' || f, 'active', 'pro'
    from params, generate_series((first_gym - 1) / 10 + 1, (last_gym - 1) / 10 + 1) f
    on conflict (slug) do nothing
    returning id
)
insert into gyms (id, franchise_id, slug, name, city, opening_hours)
select md5('scale:gym:' || g)::uuid,
       case when g %% 10 = 0 then null else md5('scale:franchise:' || ((g - 1) / 10 + 1))::uuid end,
       'scale-gym-' || lpad(g::text, 5, '0'), 'Scale Gym ' || g, 'City ' || ((g - 1) / 10 + 1),
       '{"mon": [["06:00", "22:00"]]}'::jsonb
from params, generate_series(first_gym, last_gym) g
where (select count(*) from franchises_new) >= 0;

insert into kiosks (id, gym_id, slug, name, status, device_id, last_heartbeat)
select md5('scale:kiosk:' || g)::uuid, md5('scale:gym:' || g)::uuid,
       'scale-kiosk-' || lpad(g::text, 5, '0'), 'Kiosk ' || g, 'online',
       'scale-device-' || g, %(epoch)s::timestamptz
from generate_series(%(first)s::int, %(last)s::int) g;

insert into auth.users (id, email)
select md5('scale:' || kind || ':' || g)::uuid, kind || '.' || g || '@scale.invalid'
from generate_series(%(first)s::int, %(last)s::int) g, unnest(array['manager', 'staff']) kind
union all
select md5('scale:owner:' || f)::uuid, 'owner.' || f || '@scale.invalid'
from generate_series((%(first)s::int - 1) / 10 + 1, (%(last)s::int - 1) / 10 + 1) f
on conflict do nothing;

insert into users (id, email, role, franchise_id, gym_id)
select md5('scale:' || kind || ':' || g)::uuid, kind || '.' || g || '@scale.invalid',
       case kind when 'manager' then 'gym_manager' else 'gym_staff' end::user_role,
       null, md5('scale:gym:' || g)::uuid
from generate_series(%(first)s::int, %(last)s::int) g, unnest(array['manager', 'staff']) kind
union all
select md5('scale:owner:' || f)::uuid, 'owner.' || f || '@scale.invalid', 'franchise_owner',
       md5('scale:franchise:' || f)::uuid, null
from generate_series((%(first)s::int - 1) / 10 + 1, (%(last)s::int - 1) / 10 + 1) f
on conflict do nothing;

insert into gym_members (id, gym_id, badge_id, first_name, last_name, membership_type,
                         member_since, membership_expires_on, last_visit)
select md5('scale:member:' || g || ':' || m)::uuid, md5('scale:gym:' || g)::uuid,
       upper(substr(md5('scale:badge:' || g || ':' || m), 1, 8)),
       'Member' || m, 'Gym' || g, 'standard',
       (%(epoch)s::timestamptz - make_interval(days => abs(hashtext('since' || g || ':' || m)) %% 900))::date,
       (%(epoch)s::timestamptz + make_interval(days => abs(hashtext('exp' || g || ':' || m)) %% 400 - 30))::date,
       %(epoch)s::timestamptz - make_interval(hours => abs(hashtext('visit' || g || ':' || m)) %% 2000)
from generate_series(%(first)s::int, %(last)s::int) g, generate_series(1, %(members)s::int) m;

insert into realtime_sessions (id, gym_id, kiosk_id, member_id, started_at, ended_at, status,
                               end_reason, model, input_audio_tokens, output_audio_tokens,
                               input_text_tokens, cost_usd, turn_count, first_response_ms)
select md5('scale:session:' || g || ':' || m || ':' || k)::uuid,
       md5('scale:gym:' || g)::uuid, md5('scale:kiosk:' || g)::uuid,
       md5('scale:member:' || g || ':' || m)::uuid,
       t.started, t.started + make_interval(secs => 30 + h %% 210), 'closed', 'goodbye',
       'gpt-realtime-mini', 400 + h %% 2000, 800 + h %% 4000, 600, round((h %% 5000) / 100000.0, 5),
       2 + h %% 6, 400 + h %% 900
from generate_series(%(first)s::int, %(last)s::int) g,
     generate_series(1, %(members)s::int) m,
     generate_series(1, %(sessions)s::int) k,
     lateral (select abs(hashtext('s' || g || ':' || m || ':' || k)) as h) hh,
     lateral (select %(epoch)s::timestamptz - make_interval(mins => h %% (90 * 24 * 60)) as started) t;
"""


# Server-side binding takes one statement per execute.
_STATEMENTS = [part.strip() for part in _SQL_CHUNK.split(";\n\n") if part.strip()]


def _seed_chunk(conn: psycopg.Connection, plan: ScalePlan, first: int, last: int) -> None:
    params = {
        "first": first,
        "last": last,
        "members": plan.members_per_gym,
        "sessions": plan.sessions_per_member,
        "epoch": plan.epoch,
    }
    # Bulk rows skip the per-row triggers (pipeline queue, last visit): benchmark data is
    # generated consistent, and firing 10,000,000 triggers would take hours.
    conn.execute("set local session_replication_role = replica")
    for statement in _STATEMENTS:
        conn.execute(statement.encode(), params)
