-- Weekly insights, cost roll-ups with a budget alert, and retention.
--
-- * insights_reports: one report per gym (and per franchise) and week, upserted: the job
--   run twice writes the same rows. Metrics come from private.worker_weekly_metrics; the
--   recommendations are written by the worker (OpenAI with a key, rules without).
-- * cost_daily: Realtime and analysis spend per gym and local day (franchise and platform
--   roll-ups are sums over it); a gym whose month-to-date spend passes its budget gets one
--   `budget` alert per month.
-- * Retention: heartbeats after 30 days, transcripts (turns) per policy, sessions archived
--   after 6 months (archived_at), reports archived after a year, finished jobs after 14 days.

create unique index insights_reports_gym_period_key on public.insights_reports (gym_id, report_type, period_start)
    where gym_id is not null;
create unique index insights_reports_franchise_period_key on public.insights_reports (franchise_id, report_type, period_start)
    where gym_id is null;

alter table public.realtime_sessions add column archived_at timestamptz;

create table public.cost_daily (
    gym_id uuid not null references public.gyms (id) on delete cascade,
    day date not null,
    sessions integer not null default 0,
    analyses integer not null default 0,
    realtime_usd numeric(12, 5) not null default 0,
    analysis_usd numeric(12, 6) not null default 0,
    updated_at timestamptz not null default now(),
    primary key (gym_id, day)
);
grant select on public.cost_daily to authenticated, service_role;
revoke all on public.cost_daily from anon;
alter table public.cost_daily enable row level security;
create policy cost_daily_select on public.cost_daily for select to authenticated
    using ((select private.is_super_admin()) or gym_id = any ((select private.my_managed_gym_ids())::uuid[]));

-- Per gym, the week [p_start, p_start + 7 days) and the week before: what the report needs.
create function private.worker_weekly_metrics(p_start timestamptz)
returns table (gym_id uuid, franchise_id uuid, gym_name text, language text, current jsonb,
               previous jsonb, top_topics jsonb)
language sql stable security definer
set search_path = ''
as $$
    with periods as (
        select 'current' as period, p_start as since, p_start + interval '7 days' as until
        union all
        select 'previous', p_start - interval '7 days', p_start
    ),
    per as (
        select g.id as gym_id, p.period,
               jsonb_build_object(
                   'sessions', (select count(*) from public.realtime_sessions s
                                where s.gym_id = g.id and s.started_at >= p.since and s.started_at < p.until),
                   'members_talking', (select count(distinct s.member_id) from public.realtime_sessions s
                                       where s.gym_id = g.id and s.started_at >= p.since and s.started_at < p.until),
                   'minutes', (select round(coalesce(sum(s.duration_seconds), 0) / 60.0, 1)
                               from public.realtime_sessions s
                               where s.gym_id = g.id and s.started_at >= p.since and s.started_at < p.until),
                   'avg_sentiment', (select round(avg(c.sentiment_score), 2) from public.conversation_summaries c
                                     join public.realtime_sessions s on s.id = c.session_id
                                     where c.gym_id = g.id and c.status = 'done'
                                       and s.started_at >= p.since and s.started_at < p.until),
                   'negative_sessions', (select count(*) from public.conversation_summaries c
                                         join public.realtime_sessions s on s.id = c.session_id
                                         where c.gym_id = g.id and c.sentiment_label = 'negative'
                                           and s.started_at >= p.since and s.started_at < p.until),
                   'alerts_raised', (select count(*) from public.manager_alerts a
                                     where a.gym_id = g.id and a.created_at >= p.since and a.created_at < p.until),
                   'alerts_resolved', (select count(*) from public.manager_alerts a
                                       where a.gym_id = g.id and a.resolved_at >= p.since and a.resolved_at < p.until),
                   'equipment_issues', (select count(*) from public.manager_alerts a
                                        where a.gym_id = g.id and a.alert_type = 'equipment_issue'
                                          and a.created_at >= p.since and a.created_at < p.until),
                   'realtime_cost_usd', (select coalesce(sum(s.cost_usd), 0) from public.realtime_sessions s
                                         where s.gym_id = g.id and s.started_at >= p.since and s.started_at < p.until),
                   'analysis_cost_usd', (select coalesce(sum(c.cost_usd), 0) from public.conversation_summaries c
                                         where c.gym_id = g.id and c.processed_at >= p.since and c.processed_at < p.until)
               ) as metrics
        from public.gyms g cross join periods p
        where g.status = 'active'
    )
    select g.id, g.franchise_id, g.name, private.gym_language(g.id),
           c.metrics || jsonb_build_object(
               'churn_critical', (select count(*) from public.member_analytics a
                                  where a.gym_id = g.id and a.churn_risk_level = 'critical'),
               'members', (select count(*) from public.gym_members m where m.gym_id = g.id)),
           p.metrics,
           coalesce((select jsonb_agg(jsonb_build_object('topic', t.topic, 'sessions', t.n)
                                      order by t.n desc, t.topic)
                     from (select topic, count(*) as n
                           from public.conversation_summaries c
                           join public.realtime_sessions s on s.id = c.session_id,
                                unnest(c.key_topics) topic
                           where c.gym_id = g.id and s.started_at >= p_start
                             and s.started_at < p_start + interval '7 days'
                           group by topic order by n desc, topic limit 5) t), '[]'::jsonb)
    from public.gyms g
    join per c on c.gym_id = g.id and c.period = 'current'
    join per p on p.gym_id = g.id and p.period = 'previous'
$$;

-- Upsert reports (jsonb rows with the insights_reports columns); returns how many changed.
create function private.worker_store_reports(p_reports jsonb) returns integer
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    v_gym integer;
    v_franchise integer;
begin
    with r as (
        select * from jsonb_to_recordset(p_reports) as x(
            gym_id uuid, franchise_id uuid, report_type text, period_start timestamptz,
            period_end timestamptz, title text, summary text, insights jsonb, metrics jsonb,
            recommendations jsonb, trends jsonb)
    ), upserted as (
        insert into public.insights_reports (gym_id, franchise_id, report_type, period_start,
            period_end, title, summary, insights, metrics, recommendations, trends, status,
            published_at)
        select gym_id, franchise_id, report_type, period_start, period_end, title, summary,
               insights, metrics, recommendations, trends, 'published', now()
        from r where gym_id is not null
        on conflict (gym_id, report_type, period_start) where gym_id is not null do update
        set title = excluded.title, summary = excluded.summary, insights = excluded.insights,
            metrics = excluded.metrics, recommendations = excluded.recommendations,
            trends = excluded.trends, period_end = excluded.period_end
        where (insights_reports.summary, insights_reports.metrics, insights_reports.trends,
               insights_reports.recommendations)
              is distinct from (excluded.summary, excluded.metrics, excluded.trends,
                                excluded.recommendations)
        returning 1
    )
    select count(*) into v_gym from upserted;
    with r as (
        select * from jsonb_to_recordset(p_reports) as x(
            gym_id uuid, franchise_id uuid, report_type text, period_start timestamptz,
            period_end timestamptz, title text, summary text, insights jsonb, metrics jsonb,
            recommendations jsonb, trends jsonb)
    ), upserted as (
        insert into public.insights_reports (gym_id, franchise_id, report_type, period_start,
            period_end, title, summary, insights, metrics, recommendations, trends, status,
            published_at)
        select null, franchise_id, report_type, period_start, period_end, title, summary,
               insights, metrics, recommendations, trends, 'published', now()
        from r where gym_id is null
        on conflict (franchise_id, report_type, period_start) where gym_id is null do update
        set title = excluded.title, summary = excluded.summary, insights = excluded.insights,
            metrics = excluded.metrics, recommendations = excluded.recommendations,
            trends = excluded.trends, period_end = excluded.period_end
        where (insights_reports.summary, insights_reports.metrics, insights_reports.trends,
               insights_reports.recommendations)
              is distinct from (excluded.summary, excluded.metrics, excluded.trends,
                                excluded.recommendations)
        returning 1
    )
    select count(*) into v_franchise from upserted;
    return v_gym + v_franchise;
end
$$;

-- Spend per gym and local day since `p_since`, then a budget alert per gym over budget this
-- month (p_budget 0: none).
create function private.job_cost_rollup(p_since date, p_budget numeric, p_now timestamptz)
returns table (days_changed integer, alerts_raised integer)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    v_changed integer;
    v_alerts jsonb := '[]'::jsonb;
begin
    with spend as (
        select s.gym_id, (s.started_at at time zone g.timezone)::date as day,
               count(*) as sessions, sum(s.cost_usd) as realtime_usd
        from public.realtime_sessions s join public.gyms g on g.id = s.gym_id
        where s.started_at >= p_since::timestamptz - interval '1 day'
        group by 1, 2
    ),
    analysis as (
        select c.gym_id, (c.processed_at at time zone g.timezone)::date as day,
               count(*) as analyses, sum(c.cost_usd) as analysis_usd
        from public.conversation_summaries c join public.gyms g on g.id = c.gym_id
        where c.processed_at >= p_since::timestamptz - interval '1 day'
        group by 1, 2
    ),
    days as (
        select coalesce(s.gym_id, a.gym_id) as gym_id, coalesce(s.day, a.day) as day,
               coalesce(s.sessions, 0) as sessions, coalesce(a.analyses, 0) as analyses,
               coalesce(s.realtime_usd, 0) as realtime_usd, coalesce(a.analysis_usd, 0) as analysis_usd
        from spend s full join analysis a on a.gym_id = s.gym_id and a.day = s.day
    ),
    upserted as (
        insert into public.cost_daily as d (gym_id, day, sessions, analyses, realtime_usd, analysis_usd)
        select gym_id, day, sessions, analyses, realtime_usd, analysis_usd from days
        where day >= p_since
        on conflict (gym_id, day) do update
        set sessions = excluded.sessions, analyses = excluded.analyses,
            realtime_usd = excluded.realtime_usd, analysis_usd = excluded.analysis_usd,
            updated_at = now()
        where (d.sessions, d.analyses, d.realtime_usd, d.analysis_usd)
              is distinct from (excluded.sessions, excluded.analyses, excluded.realtime_usd,
                                excluded.analysis_usd)
        returning 1
    )
    select count(*) into v_changed from upserted;

    if p_budget > 0 then
        select coalesce(jsonb_agg(jsonb_build_object(
                   'gym_id', m.gym_id, 'alert_type', 'budget', 'priority', 'high',
                   'title', case l.lang when 'en' then 'Monthly budget passed: ' || m.spent || ' USD'
                                        else 'Budget mensuel dépassé : ' || m.spent || ' USD' end,
                   'description', case l.lang
                       when 'en' then 'Spend this month (Realtime and analysis) is ' || m.spent || ' USD for a budget of ' || p_budget || ' USD.'
                       else 'Les dépenses du mois (Realtime et analyse) sont de ' || m.spent || ' USD pour un budget de ' || p_budget || ' USD.' end,
                   'recommended_actions', case l.lang
                       when 'en' then '["Review the longest sessions", "Lower the daily voice budget"]'::jsonb
                       else '["Examiner les sessions les plus longues", "Baisser le budget vocal quotidien"]'::jsonb end,
                   'context', jsonb_build_object('month', m.month, 'spent_usd', m.spent, 'budget_usd', p_budget),
                   'dedup_key', 'budget:' || m.month)), '[]'::jsonb)
        into v_alerts
        from (
            select d.gym_id, to_char(d.day, 'YYYY-MM') as month,
                   round(sum(d.realtime_usd + d.analysis_usd), 2) as spent
            from public.cost_daily d join public.gyms g on g.id = d.gym_id
            where d.day >= date_trunc('month', p_now at time zone g.timezone)::date
            group by d.gym_id, 2
        ) m
        cross join lateral (select private.gym_language(m.gym_id) as lang) l
        where m.spent > p_budget
          and not exists (select 1 from public.manager_alerts a
                          where a.gym_id = m.gym_id and a.dedup_key = 'budget:' || m.month);
    end if;
    return query select v_changed, private.insert_alerts(v_alerts);
end
$$;

create function private.job_retention(
    p_now timestamptz, p_heartbeats interval, p_transcripts interval, p_sessions interval,
    p_reports interval
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    v_heartbeats integer;
    v_turns integer;
    v_sessions integer;
    v_reports integer;
    v_jobs integer;
    v_tombstones integer;
begin
    delete from public.kiosk_heartbeats where received_at < p_now - p_heartbeats;
    get diagnostics v_heartbeats = row_count;
    delete from public.conversation_turns t using public.realtime_sessions s
    where s.id = t.session_id and s.started_at < p_now - p_transcripts;
    get diagnostics v_turns = row_count;
    update public.realtime_sessions set archived_at = p_now
    where archived_at is null and started_at < p_now - p_sessions;
    get diagnostics v_sessions = row_count;
    update public.insights_reports set status = 'archived'
    where status <> 'archived' and period_end < p_now - p_reports;
    get diagnostics v_reports = row_count;
    delete from procrastinate.procrastinate_jobs j
    where j.status in ('succeeded', 'failed', 'cancelled', 'aborted')
      and not exists (select 1 from procrastinate.procrastinate_events e
                      where e.job_id = j.id and e.at > p_now - interval '14 days')
      and not exists (select 1 from procrastinate.procrastinate_periodic_defers d
                      where d.job_id = j.id);
    get diagnostics v_jobs = row_count;
    delete from public.gym_member_deletions where deleted_at < p_now - interval '90 days';
    get diagnostics v_tombstones = row_count;
    return jsonb_build_object('heartbeats_deleted', v_heartbeats, 'turns_deleted', v_turns,
                              'sessions_archived', v_sessions, 'reports_archived', v_reports,
                              'jobs_deleted', v_jobs, 'badge_tombstones_deleted', v_tombstones);
end
$$;

revoke all on function private.worker_weekly_metrics(timestamptz),
    private.worker_store_reports(jsonb), private.job_cost_rollup(date, numeric, timestamptz),
    private.job_retention(timestamptz, interval, interval, interval, interval)
from public, anon, authenticated;
grant execute on function private.worker_weekly_metrics(timestamptz),
    private.worker_store_reports(jsonb), private.job_cost_rollup(date, numeric, timestamptz),
    private.job_retention(timestamptz, interval, interval, interval, interval)
to jarvis_worker;
