-- The nightly churn job without the nightly rewrite (issue 10's benchmark: 1,000,000 members
-- in ≤ 20 s).
--
-- Before: member_analytics stored figures that move with the calendar (days since the last
-- visit, engagement, visits per week, conversation frequency, and the observed values in
-- the churn factors), so the 02:00 job recomputed every member from ten million sessions and
-- rewrote every row, every night. Now the table holds only what events change, and what
-- time changes is computed when it is read:
--
--   stored (written by a session's chain)   totals, last conversation, sentiment figures and
--                                           recent_session_starts (the starts of the sessions
--                                           in the 30 days before the row was refreshed)
--   stored (written when it changes)        churn_risk_score, churn_risk_level and
--                                           churn_factors (factor and weight)
--   computed at read (member_analytics_live) days_since_last_visit, engagement_score,
--                                           visit_frequency_per_week, conversation_frequency,
--                                           and each churn factor's observed value
--
-- The rules are unchanged (docs/PIPELINE.md, cloud_api/pipeline/churn.py). A session's chain
-- refreshes its member from their sessions (private.refresh_member_analytics), then scores
-- them from the stored inputs and stores, with the outcome, the first date on which time
-- alone can change it (churn_recheck_on). The nightly job scores only the members whose
-- recheck date has come — an index range, no session read — and writes only those whose
-- outcome moved (a last visit turning 15 days old, a membership entering its last 29 days,
-- engagement falling under 0.3).

-- The four calendar columns are no longer written; they are dropped by migration
-- 20261129003900 (after 20261129003100, which indexes one of them, has run).
alter table public.member_analytics
    add column recent_session_starts timestamptz[] not null default '{}',
    -- The first local date on which time alone may change the member's churn outcome (a
    -- rule turning on); today for a new row or a member changed outside a session (due at
    -- the next run); null: never without an event (every time-driven rule already on).
    add column churn_recheck_on date default current_date;
create index member_analytics_churn_recheck_idx on public.member_analytics (churn_recheck_on)
    where churn_recheck_on is not null;

-- A member's last visit, expiry or gym changed outside a session's chain (a badge-in, an
-- import, an edit): their outcome is rechecked at the next run.
create function private.recheck_member_churn()
returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    update public.member_analytics set churn_recheck_on = current_date
    where member_id = new.id and (churn_recheck_on is null or churn_recheck_on > current_date);
    return null;
end
$$;
revoke all on function private.recheck_member_churn() from public, anon, authenticated;
create trigger gym_members_recheck_churn after update of last_visit, membership_expires_on, gym_id
    on public.gym_members for each row
    when ((old.last_visit, old.membership_expires_on, old.gym_id)
          is distinct from (new.last_visit, new.membership_expires_on, new.gym_id))
    execute function private.recheck_member_churn();
-- Rows now change only when a member's score moves or a session arrives: the room kept on
-- each page for the nightly rewrite is no longer needed.
alter table public.member_analytics reset (fillfactor);

-- -- The calendar-dependent figures, one definition each (the view and the job use them) ----

-- SQL-standard bodies (bound when created: no search_path to trust) and no SET clause, so
-- the planner inlines them: called for a million rows a night, a function call each would
-- cost more than the rest of the job.

-- Whole local days between the last visit and a moment (null: never seen).
create function public.days_since_visit(p_last_visit timestamptz, p_timezone text, p_at timestamptz)
returns integer
language sql immutable parallel safe
return (p_at at time zone p_timezone)::date - (p_last_visit at time zone p_timezone)::date;

-- Sessions among `p_starts` (ascending, as the refresh stores them) in the `p_days` days
-- before `p_at`: width_bucket counts the starts up to a moment by binary search.
-- Stable, not immutable: days are subtracted in the session's timezone, as `now() - interval`.
create function public.sessions_within(p_starts timestamptz[], p_days integer, p_at timestamptz)
returns integer
language sql stable parallel safe
return width_bucket(p_at, p_starts) - width_bucket(p_at - make_interval(days => p_days), p_starts);

-- 0.5 × min(visits per week / 2, 1) + 0.3 × max(0, 1 − days since last visit / 30)
-- + 0.2 × min(sessions in 30 days / 4, 1), to two decimals.
create function public.engagement_score(p_sessions_28_days integer, p_sessions_30_days integer,
                                        p_days_since integer)
returns numeric
language sql immutable parallel safe
return round(0.5 * least(p_sessions_28_days / 4.0 / 2.0, 1)
             + 0.3 * greatest(0, 1 - coalesce(p_days_since, 9999) / 30.0)
             + 0.2 * least(p_sessions_30_days / 4.0, 1), 2);

grant execute on function public.days_since_visit(timestamptz, text, timestamptz),
    public.sessions_within(timestamptz[], integer, timestamptz),
    public.engagement_score(integer, integer, integer)
to authenticated, service_role, jarvis_worker;

-- -- What the dashboards read: the stored row with the figures as of now ------------------

create view public.member_analytics_live with (security_invoker = true) as
select a.member_id, a.gym_id, a.total_conversations, a.total_session_duration_seconds,
       a.avg_session_duration_seconds, a.last_conversation_at,
       case when n.n30 >= 20 then 'daily' when n.n30 >= 4 then 'weekly'
            when n.n30 >= 1 then 'monthly' else 'rare' end as conversation_frequency,
       a.avg_sentiment_score, a.sentiment_trend, a.negative_sentiment_count,
       a.positive_sentiment_count, a.churn_risk_score, a.churn_risk_level,
       -- The stored factors with the value observed now (the days and the engagement move).
       (select coalesce(jsonb_agg(f || jsonb_build_object('value', case f ->> 'factor'
                    when 'no_visit_14_days' then to_jsonb(n.days_since)
                    when 'negative_sentiment' then to_jsonb(a.negative_sentiment_count)
                    when 'low_engagement' then to_jsonb(n.engagement)
                    when 'membership_expiring' then to_jsonb(n.days_left) end) order by i),
                '[]'::jsonb)
        from jsonb_array_elements(a.churn_factors) with ordinality e(f, i)) as churn_factors,
       a.last_churn_analysis_at, n.engagement as engagement_score,
       n.days_since as days_since_last_visit,
       least(round(n.n28 / 4.0, 2), 99.99)::numeric(4, 2) as visit_frequency_per_week,
       a.updated_at
from public.member_analytics a
left join public.gym_members m on m.id = a.member_id
left join public.gyms g on g.id = a.gym_id
cross join lateral (
    select d.days_since, c.n28, c.n30, public.engagement_score(c.n28, c.n30, d.days_since) as engagement,
           m.membership_expires_on - (now() at time zone g.timezone)::date as days_left
    from (select public.days_since_visit(greatest(m.last_visit, a.last_conversation_at),
                                          g.timezone, now()) as days_since) d,
         (select public.sessions_within(a.recent_session_starts, 28, now()) as n28,
                 public.sessions_within(a.recent_session_starts, 30, now()) as n30) c
) n;

grant select on public.member_analytics_live to authenticated, service_role;

-- -- Scoring: the customer's rules over the stored inputs ---------------------------------

create function private.score_member_churn(p_members uuid[], p_now timestamptz)
returns uuid[]
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    v_members uuid[];
    v_scores numeric[];
    v_levels text[];
    v_factors jsonb[];
    v_rechecks date[];
begin
    -- Two steps: a read-only query finds the members whose outcome (or recheck date) moved,
    -- then only those are written. `p_members` null: everyone (a rebuild).
    with days as (
        -- "Today" per gym (its timezone), computed once per gym rather than per member.
        select g.id as gym_id, g.timezone, (p_now at time zone g.timezone)::date as today
        from public.gyms g
    ),
    -- The sixteen possible outcomes of the four rules, built once: a member's rules are four
    -- bits, and their score, level and factors a lookup (no per-member JSON building).
    --   bit 1: no visit for more than 14 days (or never)  +0.3  no_visit_14_days
    --   bit 2: more than 3 negative sessions              +0.2  negative_sentiment
    --   bit 4: engagement below 0.3                       +0.2  low_engagement
    --   bit 8: membership ends in less than 30 days       +0.2  membership_expiring
    -- level: > 0.7 critical, ≥ 0.5 high, ≥ 0.3 medium, else low.
    outcomes as (
        select b.bits, x.score::numeric(3, 2) as score,
               case when x.score > 0.7 then 'critical' when x.score >= 0.5 then 'high'
                    when x.score >= 0.3 then 'medium' else 'low' end as level,
               '[]'::jsonb
               || case when b.bits & 1 > 0 then '[{"factor": "no_visit_14_days", "weight": 0.3}]'::jsonb
                  else '[]'::jsonb end
               || case when b.bits & 2 > 0 then '[{"factor": "negative_sentiment", "weight": 0.2}]'::jsonb
                  else '[]'::jsonb end
               || case when b.bits & 4 > 0 then '[{"factor": "low_engagement", "weight": 0.2}]'::jsonb
                  else '[]'::jsonb end
               || case when b.bits & 8 > 0 then '[{"factor": "membership_expiring", "weight": 0.2}]'::jsonb
                  else '[]'::jsonb end as factors
        from generate_series(0, 15) b(bits)
        cross join lateral (select least(1,
            case when b.bits & 1 > 0 then 0.3 else 0 end + case when b.bits & 2 > 0 then 0.2 else 0 end
            + case when b.bits & 4 > 0 then 0.2 else 0 end
            + case when b.bits & 8 > 0 then 0.2 else 0 end) as score) x
    ),
    rules as (
        select a.member_id, a.churn_risk_score, a.churn_risk_level, a.churn_factors,
               a.churn_recheck_on, a.recent_session_starts, m.membership_expires_on,
               d.timezone, o.visit_date,
               (case when o.days_since is null or o.days_since > 14 then 1 else 0 end
                + case when a.negative_sentiment_count > 3 then 2 else 0 end
                + case when public.engagement_score(o.n28, o.n30, o.days_since) < 0.3 then 4 else 0 end
                + case when m.membership_expires_on - d.today < 30 then 8 else 0 end) as bits
        from public.member_analytics a
        join public.gym_members m on m.id = a.member_id
        join days d on d.gym_id = a.gym_id
        -- The observed values once per member (`offset 0`: the planner would otherwise
        -- repeat each expression wherever it is used).
        cross join lateral (
            select v.visit_date, d.today - v.visit_date as days_since,
                   public.sessions_within(a.recent_session_starts, 28, p_now) as n28,
                   public.sessions_within(a.recent_session_starts, 30, p_now) as n30
            from (select (greatest(m.last_visit, a.last_conversation_at)
                          at time zone d.timezone)::date as visit_date) v
            offset 0
        ) o
        where p_members is null or a.member_id = any (p_members)
    ),
    -- When time alone turns a rule on, absent new events (rules only turn on with time):
    -- the 15th day after the last visit; 29 days before the membership ends; and the day
    -- before engagement first falls under 0.3 (it only falls with time: sampled day by day,
    -- at most 32 days ahead, when it is certainly 0).
    rechecks as (
        select r.*,
               least(case when r.bits & 1 = 0 then r.visit_date + 15 end,
                     case when r.bits & 4 = 0 then (
                         select ((p_now + make_interval(days => k - 1)) at time zone r.timezone)::date
                         from generate_series(1, 32) k
                         where public.engagement_score(
                                   public.sessions_within(r.recent_session_starts, 28,
                                                          p_now + make_interval(days => k)),
                                   public.sessions_within(r.recent_session_starts, 30,
                                                          p_now + make_interval(days => k)),
                                   ((p_now + make_interval(days => k)) at time zone r.timezone)::date
                                   - r.visit_date) < 0.3
                         order by k limit 1) end,
                     case when r.bits & 8 = 0 then r.membership_expires_on - 29 end) as recheck_on
        from rules r
    )
    select coalesce(array_agg(r.member_id), '{}'), array_agg(x.score), array_agg(x.level),
           array_agg(x.factors), array_agg(r.recheck_on)
    into v_members, v_scores, v_levels, v_factors, v_rechecks
    from rechecks r
    join outcomes x on x.bits = r.bits
    where (r.churn_risk_score, r.churn_risk_level, r.churn_factors, r.churn_recheck_on)
          is distinct from (x.score, x.level, x.factors, r.recheck_on);

    update public.member_analytics a
    set churn_risk_score = u.score, churn_risk_level = u.level, churn_factors = u.factors,
        churn_recheck_on = u.recheck_on,
        last_churn_analysis_at = case when (a.churn_risk_score, a.churn_risk_level, a.churn_factors)
                                           is distinct from (u.score, u.level, u.factors)
                                      then p_now else a.last_churn_analysis_at end
    from unnest(v_members, v_scores, v_levels, v_factors, v_rechecks)
         u(member_id, score, level, factors, recheck_on)
    where a.member_id = u.member_id;
    return v_members;
end
$$;

-- -- A member's stored inputs, from their sessions and analyses ---------------------------

-- Members without a row yet (new members) get an empty one (all members: `p_members` null).
create function private.add_member_analytics_rows(p_members uuid[])
returns void
language sql volatile security definer
set search_path = ''
as $$
    insert into public.member_analytics (member_id, gym_id)
    select m.id, m.gym_id from public.gym_members m
    where (p_members is null or m.id = any (p_members))
      and not exists (select 1 from public.member_analytics a where a.member_id = m.id)
    on conflict (member_id) do nothing
$$;

create or replace function private.refresh_member_analytics(p_members uuid[], p_now timestamptz)
returns integer
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    v_refreshed uuid[];
    v_scored uuid[];
begin
    -- All members (a rebuild: the scale seed, a restore) groups ten million sessions.
    perform set_config('work_mem', '256MB', true);
    perform private.add_member_analytics_rows(p_members);
    with visits as (
        select s.member_id, count(*) as n,
               coalesce(sum(s.duration_seconds), 0) as seconds,
               max(s.started_at) as last_at,
               coalesce(array_agg(s.started_at order by s.started_at)
                        filter (where s.started_at > p_now - interval '30 days'), '{}') as recent
        from public.realtime_sessions s
        where s.status = 'closed' and s.member_id is not null and s.started_at <= p_now
          and (p_members is null or s.member_id = any (p_members))
        group by s.member_id
    ),
    ranked as (
        select c.member_id, c.sentiment_score, c.sentiment_label,
               row_number() over (partition by c.member_id order by c.created_at desc) as rn
        from public.conversation_summaries c
        where c.status = 'done' and c.member_id is not null and c.sentiment_score is not null
          and (p_members is null or c.member_id = any (p_members))
    ),
    moods as (
        select member_id, avg(sentiment_score) as average, count(*) as analysed,
               count(*) filter (where sentiment_label = 'negative') as negatives,
               count(*) filter (where sentiment_label = 'positive') as positives,
               avg(sentiment_score) filter (where rn <= 3) as recent,
               avg(sentiment_score) filter (where rn between 4 and 6) as earlier
        from ranked group by member_id
    ),
    final as (
        select m.id as member_id, m.gym_id, coalesce(v.n, 0)::integer as total_conversations,
               round(coalesce(v.seconds, 0))::integer as total_session_duration_seconds,
               case when v.n > 0 then round(v.seconds / v.n, 2) end as avg_session_duration_seconds,
               v.last_at as last_conversation_at,
               coalesce(v.recent, '{}') as recent_session_starts,
               round(o.average, 2) as avg_sentiment_score,
               case when coalesce(o.analysed, 0) < 4 or o.earlier is null then 'stable'
                    when o.recent - o.earlier > 0.2 then 'improving'
                    when o.recent - o.earlier < -0.2 then 'declining'
                    else 'stable' end as sentiment_trend,
               coalesce(o.negatives, 0)::integer as negative_sentiment_count,
               coalesce(o.positives, 0)::integer as positive_sentiment_count
        from public.gym_members m
        left join visits v on v.member_id = m.id
        left join moods o on o.member_id = m.id
        where p_members is null or m.id = any (p_members)
    ),
    updated as (
        update public.member_analytics a
        set gym_id = f.gym_id,
            total_conversations = f.total_conversations,
            total_session_duration_seconds = f.total_session_duration_seconds,
            avg_session_duration_seconds = f.avg_session_duration_seconds,
            last_conversation_at = f.last_conversation_at,
            recent_session_starts = f.recent_session_starts,
            avg_sentiment_score = f.avg_sentiment_score,
            sentiment_trend = f.sentiment_trend,
            negative_sentiment_count = f.negative_sentiment_count,
            positive_sentiment_count = f.positive_sentiment_count
        from final f
        where a.member_id = f.member_id
          and (a.gym_id, a.total_conversations, a.total_session_duration_seconds,
               a.avg_session_duration_seconds, a.last_conversation_at, a.recent_session_starts,
               a.avg_sentiment_score, a.sentiment_trend, a.negative_sentiment_count,
               a.positive_sentiment_count)
            is distinct from
              (f.gym_id, f.total_conversations, f.total_session_duration_seconds,
               f.avg_session_duration_seconds, f.last_conversation_at, f.recent_session_starts,
               f.avg_sentiment_score, f.sentiment_trend, f.negative_sentiment_count,
               f.positive_sentiment_count)
        returning a.member_id
    )
    select coalesce(array_agg(member_id), '{}') into v_refreshed from updated;
    v_scored := private.score_member_churn(p_members, p_now);
    return (select count(distinct x)::integer from unnest(v_refreshed || v_scored) x);
end
$$;

-- The nightly job: the members whose outcome time may have changed (their recheck date has
-- come: a small, indexed set) scored from the stored inputs, then the alerts. Members are
-- refreshed from their sessions by each session's chain (and `reanalyze` makes sure every
-- session gets one); new members get their row here (rechecked at once).
create or replace function private.job_daily_churn(p_now timestamptz)
returns table (analytics_changed integer, alerts_raised integer)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    v_due uuid[];
    v_changed uuid[];
begin
    perform private.add_member_analytics_rows(null);
    -- A day ahead of UTC covers every timezone's "today"; a member taken early is scored,
    -- found unchanged and keeps their recheck date.
    select coalesce(array_agg(a.member_id), '{}') into v_due
    from public.member_analytics a
    where a.churn_recheck_on <= (p_now at time zone 'UTC')::date + 1;
    v_changed := private.score_member_churn(v_due, p_now);
    return query select cardinality(v_changed), private.raise_member_alerts(null, p_now);
end
$$;

revoke all on function private.score_member_churn(uuid[], timestamptz),
    private.add_member_analytics_rows(uuid[])
    from public, anon, authenticated;
