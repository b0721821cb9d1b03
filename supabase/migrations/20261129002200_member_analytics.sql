-- Member analytics and churn risk, set-based: one statement over every member it is asked
-- about (one member after a session, everyone in the daily job).
--
-- Definitions (docs/PIPELINE.md):
--   visit_frequency_per_week   sessions in the last 28 days / 4
--   days_since_last_visit      days since the later of gym_members.last_visit and the last
--                              session (null: never seen)
--   engagement_score           0.5 × min(visits per week / 2, 1)
--                            + 0.3 × max(0, 1 − days since last visit / 30)
--                            + 0.2 × min(sessions in the last 30 days / 4, 1)
--   conversation_frequency     sessions in 30 days: ≥ 20 daily, ≥ 4 weekly, ≥ 1 monthly, rare
--   sentiment_trend            average of the last 3 analysed sessions against the 3 before:
--                              +0.2 improving, −0.2 declining, else stable (stable below 4)
--   churn (the customer's rules, as cloud_api/pipeline/churn.py):
--     no visit for more than 14 days (or never)   +0.3  no_visit_14_days
--     more than 3 negative sessions               +0.2  negative_sentiment
--     engagement below 0.3                        +0.2  low_engagement
--     membership ends in less than 30 days        +0.2  membership_expiring
--   level: > 0.7 critical, ≥ 0.5 high, ≥ 0.3 medium, else low. Every factor is stored with
--   its weight and the observed value.
-- A row is only written when a value changed, so running it twice changes nothing.

-- What the analytics read of a session, in member order: the nightly job aggregates it with
-- an index-only scan (a tenth of the table's pages) and needs no hash over every member.
create index realtime_sessions_member_closed_idx on public.realtime_sessions (member_id, started_at)
    include (duration_seconds)
    where status = 'closed' and member_id is not null;

-- The daily job rewrites every member's row (days since the last visit move every day): room
-- on each page and no index on columns that move daily let those be HOT updates (no index
-- writes). The global engagement index served no query (every dashboard query filters on
-- gym_id first, under RLS); ordering a gym's members by engagement scans that gym's rows.
alter table public.member_analytics set (fillfactor = 80);
drop index if exists public.member_analytics_engagement_idx;

create function private.refresh_member_analytics(p_members uuid[], p_now timestamptz)
returns integer
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    v_changed integer;
begin
    -- One pass over a million members groups ten million sessions: give it room in memory.
    perform set_config('work_mem', '256MB', true);
    -- Members without a row yet (new members) get one first, so one UPDATE does the rest
    -- and the computation is not materialised twice.
    insert into public.member_analytics (member_id, gym_id)
    select m.id, m.gym_id from public.gym_members m
    where (p_members is null or m.id = any (p_members))
      and not exists (select 1 from public.member_analytics a where a.member_id = m.id)
    on conflict (member_id) do nothing;
    with days as (
        -- "Today" per gym (its timezone), computed once per gym rather than per member.
        select g.id as gym_id, g.timezone, (p_now at time zone g.timezone)::date as today
        from public.gyms g
    ),
    members as (
        select m.id, m.gym_id, m.last_visit, m.membership_expires_on, d.timezone, d.today
        from public.gym_members m join days d on d.gym_id = m.gym_id
        where p_members is null or m.id = any (p_members)
    ),
    visits as (
        select s.member_id, count(*) as n,
               coalesce(sum(s.duration_seconds), 0) as seconds,
               max(s.started_at) as last_at,
               count(*) filter (where s.started_at > p_now - interval '28 days') as n28,
               count(*) filter (where s.started_at > p_now - interval '30 days') as n30
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
    facts as (
        select m.id as member_id, m.gym_id, m.membership_expires_on - m.today as days_left,
               coalesce(v.n, 0) as n, coalesce(v.seconds, 0) as seconds, v.last_at,
               coalesce(v.n28, 0) as n28, coalesce(v.n30, 0) as n30,
               (m.today - (greatest(m.last_visit, v.last_at) at time zone m.timezone)::date) as days_since,
               o.average, coalesce(o.analysed, 0) as analysed,
               coalesce(o.negatives, 0) as negatives, coalesce(o.positives, 0) as positives,
               o.recent, o.earlier
        from members m
        left join visits v on v.member_id = m.id
        left join moods o on o.member_id = m.id
    ),
    scored as (
        select f.*,
               round(0.5 * least(f.n28 / 4.0 / 2.0, 1)
                     + 0.3 * greatest(0, 1 - coalesce(f.days_since, 9999) / 30.0)
                     + 0.2 * least(f.n30 / 4.0, 1), 2) as engagement
        from facts f
    ),
    flagged as (
        select s.*,
               (s.days_since is null or s.days_since > 14) as no_visit,
               (s.negatives > 3) as unhappy,
               (s.engagement < 0.3) as disengaged,
               (s.days_left < 30) as expiring
        from scored s
    ),
    final as (
        select f.member_id, f.gym_id, f.n as total_conversations,
               round(f.seconds)::integer as total_session_duration_seconds,
               case when f.n > 0 then round(f.seconds / f.n, 2) end as avg_session_duration_seconds,
               f.last_at as last_conversation_at,
               case when f.n30 >= 20 then 'daily' when f.n30 >= 4 then 'weekly'
                    when f.n30 >= 1 then 'monthly' else 'rare' end as conversation_frequency,
               round(f.average, 2) as avg_sentiment_score,
               case when f.analysed < 4 or f.earlier is null then 'stable'
                    when f.recent - f.earlier > 0.2 then 'improving'
                    when f.recent - f.earlier < -0.2 then 'declining'
                    else 'stable' end as sentiment_trend,
               f.negatives as negative_sentiment_count, f.positives as positive_sentiment_count,
               x.score::numeric(3, 2) as churn_risk_score,
               case when x.score > 0.7 then 'critical' when x.score >= 0.5 then 'high'
                    when x.score >= 0.3 then 'medium' else 'low' end as churn_risk_level,
               -- Built from expressions (no per-row subquery): a million rows a night.
               '[]'::jsonb
               || case when f.no_visit then jsonb_build_array(jsonb_build_object(
                      'factor', 'no_visit_14_days', 'weight', 0.3, 'value', f.days_since))
                  else '[]'::jsonb end
               || case when f.unhappy then jsonb_build_array(jsonb_build_object(
                      'factor', 'negative_sentiment', 'weight', 0.2, 'value', f.negatives))
                  else '[]'::jsonb end
               || case when f.disengaged then jsonb_build_array(jsonb_build_object(
                      'factor', 'low_engagement', 'weight', 0.2, 'value', f.engagement))
                  else '[]'::jsonb end
               || case when f.expiring then jsonb_build_array(jsonb_build_object(
                      'factor', 'membership_expiring', 'weight', 0.2, 'value', f.days_left))
                  else '[]'::jsonb end as churn_factors,
               f.engagement as engagement_score, f.days_since as days_since_last_visit,
               least(round(f.n28 / 4.0, 2), 99.99) as visit_frequency_per_week
        from flagged f
        cross join lateral (select least(1,
            case when f.no_visit then 0.3 else 0 end + case when f.unhappy then 0.2 else 0 end
            + case when f.disengaged then 0.2 else 0 end
            + case when f.expiring then 0.2 else 0 end) as score) x
    ),
    updated as (
        update public.member_analytics a
        set gym_id = f.gym_id,
            total_conversations = f.total_conversations,
            total_session_duration_seconds = f.total_session_duration_seconds,
            avg_session_duration_seconds = f.avg_session_duration_seconds,
            last_conversation_at = f.last_conversation_at,
            conversation_frequency = f.conversation_frequency,
            avg_sentiment_score = f.avg_sentiment_score,
            sentiment_trend = f.sentiment_trend,
            negative_sentiment_count = f.negative_sentiment_count,
            positive_sentiment_count = f.positive_sentiment_count,
            churn_risk_score = f.churn_risk_score,
            churn_risk_level = f.churn_risk_level,
            churn_factors = f.churn_factors,
            last_churn_analysis_at = p_now,
            engagement_score = f.engagement_score,
            days_since_last_visit = f.days_since_last_visit,
            visit_frequency_per_week = f.visit_frequency_per_week
        from final f
        where a.member_id = f.member_id
          and (a.gym_id, a.total_conversations, a.total_session_duration_seconds,
               a.avg_session_duration_seconds, a.last_conversation_at, a.conversation_frequency,
               a.avg_sentiment_score, a.sentiment_trend, a.negative_sentiment_count,
               a.positive_sentiment_count, a.churn_risk_score, a.churn_risk_level,
               a.churn_factors, a.engagement_score, a.days_since_last_visit,
               a.visit_frequency_per_week)
            is distinct from
              (f.gym_id, f.total_conversations, f.total_session_duration_seconds,
               f.avg_session_duration_seconds, f.last_conversation_at, f.conversation_frequency,
               f.avg_sentiment_score, f.sentiment_trend, f.negative_sentiment_count,
               f.positive_sentiment_count, f.churn_risk_score, f.churn_risk_level,
               f.churn_factors, f.engagement_score, f.days_since_last_visit,
               f.visit_frequency_per_week)
        returning 1
    )
    select count(*) into v_changed from updated;
    return v_changed;
end
$$;

revoke all on function private.refresh_member_analytics(uuid[], timestamptz)
    from public, anon, authenticated;
grant execute on function private.refresh_member_analytics(uuid[], timestamptz) to jarvis_worker;
