-- Manager alerts raised by the pipeline and the jobs, deduplicated, delivered and audited.
--
-- * One open (pending or in progress) alert per kind and subject: `dedup_key` names the
--   subject (`member:<id>`, `kiosk:<id>`, `equipment:<name>`...), filled by a trigger when
--   the writer did not, and a partial unique index holds the rule under concurrency.
-- * Rules (docs/PIPELINE.md): churn above 0.7 (again at most every 30 days per member);
--   a session's sentiment below −0.5; milestones (the 10th session, raised by the session's
--   chain; a weight goal reached: once per member and milestone, ever); a kiosk silent for 30 minutes; equipment issues and
--   staff escalations from JARVIS's tools (private.kiosk_raise_alert, now deduplicated the
--   same way).
-- * Lifecycle: pending → in_progress → resolved | dismissed (or straight to resolved or
--   dismissed; in_progress may go back to pending). Resolved and dismissed are final.
--   Every change of status, assignee or notes is written to the audit log by a trigger, with
--   the user who made it.
-- * Every new alert defers its delivery job (`deliver_alert`) in the same transaction.

alter table public.manager_alerts add column dedup_key text;
create unique index manager_alerts_open_subject_key on public.manager_alerts (gym_id, alert_type, dedup_key)
    where status in ('pending', 'in_progress') and dedup_key is not null;
create index manager_alerts_dedup_idx on public.manager_alerts (dedup_key, created_at desc);

create function private.alert_dedup_key() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if new.dedup_key is null then
        new.dedup_key := case
            when new.alert_type = 'equipment_issue' and coalesce(new.context ->> 'equipment', '') <> ''
                then 'equipment:' || lower(trim(new.context ->> 'equipment'))
            when new.member_id is not null then 'member:' || new.member_id::text
            when new.kiosk_id is not null then 'kiosk:' || new.kiosk_id::text
            else null
        end;
    end if;
    return new;
end
$$;
create trigger manager_alerts_dedup_key before insert on public.manager_alerts
    for each row execute function private.alert_dedup_key();

create function private.alert_lifecycle() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if new.status is distinct from old.status then
        if old.status in ('resolved', 'dismissed') then
            raise exception 'alert % is % and cannot change status', old.id, old.status
                using errcode = '22023';
        end if;
        if new.status in ('resolved', 'dismissed') then
            new.resolved_at := coalesce(new.resolved_at, now());
        end if;
    end if;
    return new;
end
$$;
create trigger manager_alerts_lifecycle before update on public.manager_alerts
    for each row execute function private.alert_lifecycle();

create function private.audit_alert_change() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
    v_actor uuid := auth.uid();
begin
    if (new.status, new.assigned_to, new.resolution_notes)
        is not distinct from (old.status, old.assigned_to, old.resolution_notes) then
        return null;
    end if;
    insert into public.audit_log (actor_type, actor_id, gym_id, action, target_type, target_id,
                                  details)
    values (case when v_actor is null then 'system' else 'user' end, v_actor, new.gym_id,
            case when new.status is distinct from old.status then 'alert.status_changed'
                 when new.assigned_to is distinct from old.assigned_to then 'alert.assigned'
                 else 'alert.noted' end,
            'manager_alert', new.id::text,
            jsonb_strip_nulls(jsonb_build_object(
                'from', old.status, 'to', new.status,
                'assigned_to', new.assigned_to,
                'previously_assigned_to', old.assigned_to,
                'notes', new.resolution_notes)));
    return null;
end
$$;
create trigger manager_alerts_audit after update on public.manager_alerts
    for each row execute function private.audit_alert_change();

create function private.defer_alert_delivery() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    perform private.defer_job('deliver_alert', jsonb_build_object('alert_id', new.id),
                              'delivery', null, 'deliver:' || new.id::text);
    return null;
end
$$;
create trigger manager_alerts_deliver after insert on public.manager_alerts
    for each row execute function private.defer_alert_delivery();

-- The language alerts of a gym are written in: its first kiosk's.
create function private.gym_language(p_gym_id uuid) returns text
language sql stable security definer
set search_path = ''
as $$
    select coalesce((select k.language from public.kiosks k where k.gym_id = p_gym_id
                     order by k.created_at, k.id limit 1), 'fr')
$$;

-- ---------------------------------------------------------------------------------------
-- Kiosk-raised alerts: the same dedup rule (replaces the ten-minute window of 000600)
-- ---------------------------------------------------------------------------------------

create or replace function private.kiosk_raise_alert(
    p_alert_type text,
    p_priority text,
    p_title text,
    p_description text,
    p_member_id uuid,
    p_context jsonb
) returns table (alert_id uuid, created boolean)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    v_kiosk uuid := private.kiosk_id();
    v_gym uuid;
    v_alert uuid;
    v_key text;
begin
    if v_kiosk is null then
        raise exception 'only a kiosk with a valid credential raises alerts this way'
            using errcode = '42501';
    end if;
    if p_alert_type not in ('equipment_issue', 'staff_escalation') then
        raise exception 'a kiosk may only raise equipment_issue or staff_escalation alerts'
            using errcode = '42501';
    end if;
    select k.gym_id into v_gym from public.kiosks k where k.id = v_kiosk;
    if p_member_id is not null and not exists (
        select 1 from public.gym_members m where m.id = p_member_id and m.gym_id = v_gym
    ) then
        raise exception 'the member does not belong to this kiosk''s gym' using errcode = '42501';
    end if;
    v_key := case
        when p_alert_type = 'equipment_issue' and coalesce(p_context ->> 'equipment', '') <> ''
            then 'equipment:' || lower(trim(p_context ->> 'equipment'))
        when p_member_id is not null then 'member:' || p_member_id::text
        else 'kiosk:' || v_kiosk::text
    end;

    insert into public.manager_alerts (gym_id, member_id, kiosk_id, alert_type, priority, title,
                                       description, context, dedup_key)
    values (v_gym, p_member_id, v_kiosk, p_alert_type, p_priority, p_title, p_description,
            coalesce(p_context, '{}'::jsonb), v_key)
    on conflict (gym_id, alert_type, dedup_key)
        where status in ('pending', 'in_progress') and dedup_key is not null
        do nothing
    returning id into v_alert;
    if v_alert is null then
        select a.id into v_alert from public.manager_alerts a
        where a.gym_id = v_gym and a.alert_type = p_alert_type and a.dedup_key = v_key
          and a.status in ('pending', 'in_progress');
        return query select v_alert, false;
        return;
    end if;
    insert into public.audit_log (actor_type, actor_id, gym_id, action, target_type, target_id,
                                  details)
    values ('kiosk', v_kiosk, v_gym, 'alert.raised', 'manager_alert', v_alert::text,
            jsonb_build_object('alert_type', p_alert_type, 'priority', p_priority,
                               'member_id', p_member_id));
    return query select v_alert, true;
end
$$;

-- ---------------------------------------------------------------------------------------
-- Pipeline rules
-- ---------------------------------------------------------------------------------------

-- Inserts candidate alerts (jsonb rows with the manager_alerts columns), skipping any whose
-- subject already has an open alert of that kind; audits each one raised. Returns how many.
create function private.insert_alerts(p_alerts jsonb) returns integer
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    v_count integer;
begin
    with candidates as (
        select * from jsonb_to_recordset(p_alerts) as x(
            gym_id uuid, member_id uuid, kiosk_id uuid, alert_type text, priority text,
            title text, description text, recommended_actions jsonb, context jsonb,
            dedup_key text)
    ),
    raised as (
        insert into public.manager_alerts (gym_id, member_id, kiosk_id, alert_type, priority,
                                           title, description, recommended_actions, context,
                                           dedup_key)
        select gym_id, member_id, kiosk_id, alert_type, priority, title, description,
               coalesce(recommended_actions, '[]'::jsonb), coalesce(context, '{}'::jsonb),
               dedup_key
        from candidates
        on conflict (gym_id, alert_type, dedup_key)
            where status in ('pending', 'in_progress') and dedup_key is not null
            do nothing
        returning id, gym_id, alert_type, priority, member_id, kiosk_id
    ),
    audited as (
        insert into public.audit_log (actor_type, gym_id, action, target_type, target_id, details)
        select 'system', r.gym_id, 'alert.raised', 'manager_alert', r.id::text,
               jsonb_strip_nulls(jsonb_build_object('alert_type', r.alert_type,
                   'priority', r.priority, 'member_id', r.member_id, 'kiosk_id', r.kiosk_id))
        from raised r
        returning 1
    )
    select count(*) into v_count from audited;
    return v_count;
end
$$;

-- Churn and milestone alerts for these members (null: everyone), from their analytics.
create function private.raise_member_alerts(p_members uuid[], p_now timestamptz)
returns integer
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    v_alerts jsonb;
begin
    with langs as (  -- once per gym, not once per member
        select g.id as gym_id, private.gym_language(g.id) as lang from public.gyms g
    ),
    scope as (
        select a.member_id, a.gym_id, a.churn_risk_score, a.churn_factors,
               a.total_conversations, m.first_name, l.lang
        from public.member_analytics a
        join public.gym_members m on m.id = a.member_id
        join langs l on l.gym_id = a.gym_id
        where (p_members is null or a.member_id = any (p_members))
          and (a.churn_risk_score > 0.7
               or (p_members is not null and a.total_conversations >= 10)
               or exists (select 1 from public.member_fitness_profile f
                          where f.member_id = a.member_id and f.target_weight_kg is not null))
    ),
    churn as (
        select s.gym_id, s.member_id, 'churn_risk' as alert_type,
               case when s.churn_risk_score >= 0.9 then 'urgent' else 'high' end as priority,
               case s.lang when 'en' then 'Churn risk: ' || s.first_name
                           else 'Risque de départ : ' || s.first_name end as title,
               case s.lang when 'en' then 'Churn score ' || s.churn_risk_score || ' ('
                                          || (select string_agg(f ->> 'factor', ', ')
                                              from jsonb_array_elements(s.churn_factors) f) || ').'
                           else 'Score de risque ' || s.churn_risk_score || ' ('
                                || (select string_agg(f ->> 'factor', ', ')
                                    from jsonb_array_elements(s.churn_factors) f) || ').' end
                   as description,
               case s.lang when 'en' then '["Call the member this week", "Offer a free coaching session", "Check their membership renewal"]'::jsonb
                           else '["Appeler le membre cette semaine", "Proposer une séance de coaching offerte", "Vérifier le renouvellement de son abonnement"]'::jsonb end
                   as recommended_actions,
               jsonb_build_object('churn_risk_score', s.churn_risk_score,
                                  'churn_factors', s.churn_factors) as context,
               'member:' || s.member_id::text as dedup_key
        from scope s
        where s.churn_risk_score > 0.7
          and not exists (select 1 from public.manager_alerts a
                          where a.dedup_key = 'member:' || s.member_id::text
                            and a.alert_type = 'churn_risk'
                            and (a.status in ('pending', 'in_progress')
                                 or a.created_at > p_now - interval '30 days'))
    ),
    tenth as (
        select s.gym_id, s.member_id, 'milestone' as alert_type, 'low' as priority,
               case s.lang when 'en' then s.first_name || ': 10 conversations with JARVIS'
                           else s.first_name || ' : 10 conversations avec JARVIS' end as title,
               case s.lang when 'en' then s.first_name || ' has just had their 10th conversation with JARVIS.'
                           else s.first_name || ' vient d''avoir sa 10e conversation avec JARVIS.' end
                   as description,
               case s.lang when 'en' then '["Congratulate the member at their next visit"]'::jsonb
                           else '["Féliciter le membre à sa prochaine visite"]'::jsonb end
                   as recommended_actions,
               jsonb_build_object('milestone', 'sessions_10',
                                  'total_conversations', s.total_conversations) as context,
               'member:' || s.member_id::text || ':sessions_10' as dedup_key
        from scope s
        -- A milestone is news on the day it happens: the session chain raises it (for the
        -- member just seen), the nightly job over everyone does not.
        where p_members is not null and s.total_conversations >= 10
          and not exists (select 1 from public.manager_alerts a
                          where a.dedup_key = 'member:' || s.member_id::text || ':sessions_10')
    ),
    goal as (
        select s.gym_id, s.member_id, 'milestone' as alert_type, 'low' as priority,
               case s.lang when 'en' then s.first_name || ' reached their weight goal'
                           else s.first_name || ' a atteint son objectif de poids' end as title,
               case s.lang when 'en' then 'Target ' || f.target_weight_kg || ' kg, now ' || f.current_weight_kg || ' kg.'
                           else 'Objectif ' || f.target_weight_kg || ' kg, maintenant ' || f.current_weight_kg || ' kg.' end
                   as description,
               case s.lang when 'en' then '["Congratulate the member", "Suggest a new goal"]'::jsonb
                           else '["Féliciter le membre", "Proposer un nouvel objectif"]'::jsonb end
                   as recommended_actions,
               jsonb_build_object('milestone', 'weight_goal', 'target_weight_kg', f.target_weight_kg,
                                  'current_weight_kg', f.current_weight_kg) as context,
               'member:' || s.member_id::text || ':goal:' || f.target_weight_kg as dedup_key
        from scope s
        join public.member_fitness_profile f on f.member_id = s.member_id
        where f.target_weight_kg is not null and f.current_weight_kg is not null
          and (('weight_loss' = any (f.primary_goals) and f.current_weight_kg <= f.target_weight_kg)
               or ('muscle_gain' = any (f.primary_goals) and f.current_weight_kg >= f.target_weight_kg))
          and not exists (select 1 from public.manager_alerts a
                          where a.dedup_key = 'member:' || s.member_id::text || ':goal:' || f.target_weight_kg)
    )
    select coalesce(jsonb_agg(to_jsonb(x)), '[]'::jsonb) into v_alerts
    from (select * from churn union all select * from tenth union all select * from goal) x;
    return private.insert_alerts(v_alerts);
end
$$;

-- A session whose sentiment is below −0.5: negative feedback, one open per member.
create function private.raise_session_alerts(p_session_id uuid) returns integer
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    v_alerts jsonb;
begin
    select coalesce(jsonb_agg(jsonb_build_object(
               'gym_id', c.gym_id, 'member_id', c.member_id, 'kiosk_id', c.kiosk_id,
               'alert_type', 'negative_feedback',
               'priority', case when c.sentiment_score <= -0.8 then 'high' else 'medium' end,
               'title', case l.lang
                   when 'en' then 'Unhappy member: ' || coalesce(m.first_name, 'unknown member')
                   else 'Membre mécontent : ' || coalesce(m.first_name, 'membre inconnu') end,
               'description', c.summary_text,
               'recommended_actions', case l.lang
                   when 'en' then '["Read the conversation summary", "Call the member back within 48 hours", "Fix the cause and tell the member"]'::jsonb
                   else '["Lire le résumé de la conversation", "Rappeler le membre sous 48 heures", "Régler la cause et le dire au membre"]'::jsonb end,
               'context', jsonb_build_object('session_id', c.session_id,
                                             'sentiment_score', c.sentiment_score,
                                             'emotion', c.emotion_detected,
                                             'topics', to_jsonb(c.key_topics)),
               'dedup_key', coalesce('member:' || c.member_id::text, 'session:' || c.session_id::text))),
           '[]'::jsonb)
    into v_alerts
    from public.conversation_summaries c
    cross join lateral (select private.gym_language(c.gym_id) as lang) l
    left join public.gym_members m on m.id = c.member_id
    where c.session_id = p_session_id and c.status = 'done' and c.sentiment_score < -0.5;
    return private.insert_alerts(v_alerts);
end
$$;

-- The end of a session's chain, in one transaction: the analysis stored, the member's
-- analytics and churn refreshed, the alerts raised. p_analysis carries the columns of
-- conversation_summaries (see cloud_api/pipeline/store.py). Storing the same analysis again
-- changes nothing.
create function private.worker_store_analysis(
    p_session_id uuid, p_analysis jsonb, p_embedding text, p_now timestamptz
) returns table (member_id uuid, analytics_changed integer, alerts_raised integer)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    v_member uuid;
    v_changed integer := 0;
    v_alerts integer := 0;
begin
    update public.conversation_summaries c
    set status = 'done',
        summary_text = p_analysis ->> 'summary_text',
        key_topics = array(select jsonb_array_elements_text(p_analysis -> 'key_topics')),
        sentiment_score = (p_analysis ->> 'sentiment_score')::numeric,
        sentiment_label = p_analysis ->> 'sentiment_label',
        emotion_detected = p_analysis ->> 'emotion_detected',
        intents_detected = array(select jsonb_array_elements_text(p_analysis -> 'intents_detected')),
        action_items = coalesce(p_analysis -> 'action_items', '[]'::jsonb),
        embedding = p_embedding::extensions.vector,
        embedding_model = case when p_embedding is null then null
                               else p_analysis ->> 'embedding_model' end,
        analyzer = p_analysis ->> 'analyzer',
        analysis_model = p_analysis ->> 'analysis_model',
        language = p_analysis ->> 'language',
        input_tokens = coalesce((p_analysis ->> 'input_tokens')::integer, 0),
        output_tokens = coalesce((p_analysis ->> 'output_tokens')::integer, 0),
        embedding_tokens = coalesce((p_analysis ->> 'embedding_tokens')::integer, 0),
        cost_usd = coalesce((p_analysis ->> 'cost_usd')::numeric, 0),
        error = null,
        processed_at = coalesce(c.processed_at, p_now)
    where c.session_id = p_session_id
    returning c.member_id into v_member;
    if not found then
        return;  -- the session was erased meanwhile
    end if;
    if v_member is not null then
        v_changed := private.refresh_member_analytics(array[v_member], p_now);
        v_alerts := private.raise_member_alerts(array[v_member], p_now);
    end if;
    v_alerts := v_alerts + private.raise_session_alerts(p_session_id);
    return query select v_member, v_changed, v_alerts;
end
$$;

-- ---------------------------------------------------------------------------------------
-- Scheduled jobs
-- ---------------------------------------------------------------------------------------

-- Daily churn: every member's analytics and churn, then the alerts.
create function private.job_daily_churn(p_now timestamptz)
returns table (analytics_changed integer, alerts_raised integer)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    v_changed integer;
begin
    v_changed := private.refresh_member_analytics(null, p_now);
    return query select v_changed, private.raise_member_alerts(null, p_now);
end
$$;

-- Kiosk health: silent for `p_offline_after` → offline; for `p_alert_after` → an alert to the
-- gym; a kiosk heard from again resolves its open offline alert.
create function private.job_kiosk_health(
    p_now timestamptz, p_offline_after interval, p_alert_after interval
) returns table (marked_offline integer, alerts_raised integer, alerts_resolved integer)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    v_offline integer;
    v_resolved integer;
    v_alerts jsonb;
begin
    update public.kiosks k set status = 'offline'
    where k.status in ('online', 'error') and k.last_heartbeat < p_now - p_offline_after;
    get diagnostics v_offline = row_count;

    update public.manager_alerts a
    set status = 'resolved',
        resolution_notes = coalesce(a.resolution_notes, 'The kiosk is reporting again.')
    from public.kiosks k
    where a.alert_type = 'kiosk_offline' and a.status in ('pending', 'in_progress')
      and k.id = a.kiosk_id and k.status = 'online'
      and k.last_heartbeat >= p_now - p_offline_after;
    get diagnostics v_resolved = row_count;

    select coalesce(jsonb_agg(jsonb_build_object(
               'gym_id', k.gym_id, 'kiosk_id', k.id, 'alert_type', 'kiosk_offline',
               'priority', 'high',
               'title', case l.lang when 'en' then 'Kiosk offline: ' || k.name
                                    else 'Kiosk hors ligne : ' || k.name end,
               'description', case l.lang
                   when 'en' then 'No heartbeat since ' || to_char(k.last_heartbeat at time zone g.timezone, 'YYYY-MM-DD HH24:MI') || '.'
                   else 'Aucun signal depuis le ' || to_char(k.last_heartbeat at time zone g.timezone, 'DD/MM/YYYY HH24:MI') || '.' end,
               'recommended_actions', case l.lang
                   when 'en' then '["Check the kiosk has power and network", "Run jarvis-kiosk doctor on it"]'::jsonb
                   else '["Vérifier l''alimentation et le réseau du kiosk", "Lancer jarvis-kiosk doctor sur le kiosk"]'::jsonb end,
               'context', jsonb_build_object('last_heartbeat', k.last_heartbeat),
               'dedup_key', 'kiosk:' || k.id::text)), '[]'::jsonb)
    into v_alerts
    from public.kiosks k
    join public.gyms g on g.id = k.gym_id
    cross join lateral (select private.gym_language(k.gym_id) as lang) l
    where k.status = 'offline' and k.provisioned_at is not null
      and k.last_heartbeat < p_now - p_alert_after;
    return query select v_offline, private.insert_alerts(v_alerts), v_resolved;
end
$$;

revoke all on function private.alert_dedup_key(), private.alert_lifecycle(),
    private.audit_alert_change(), private.defer_alert_delivery(), private.gym_language(uuid),
    private.insert_alerts(jsonb), private.raise_member_alerts(uuid[], timestamptz),
    private.raise_session_alerts(uuid),
    private.worker_store_analysis(uuid, jsonb, text, timestamptz),
    private.job_daily_churn(timestamptz),
    private.job_kiosk_health(timestamptz, interval, interval)
from public, anon, authenticated;
revoke all on function private.kiosk_raise_alert(text, text, text, text, uuid, jsonb) from public, anon;
grant execute on function private.kiosk_raise_alert(text, text, text, text, uuid, jsonb) to authenticated;
grant execute on function private.worker_store_analysis(uuid, jsonb, text, timestamptz),
    private.job_daily_churn(timestamptz),
    private.job_kiosk_health(timestamptz, interval, interval),
    private.raise_member_alerts(uuid[], timestamptz)
to jarvis_worker;
