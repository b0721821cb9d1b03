-- Voice sessions and JARVIS's tools.
--
-- * voice_session_starts: one row per voice session a kiosk asked the cloud to start (its id
--   is the id the kiosk files the session record under). It carries the per-member rate
--   limit (starts in the last hour, across the gym's kiosks) and ties tool calls to a live
--   session of the calling kiosk.
-- * classes and class_bookings: the gym's schedule; capacity, a bounded waitlist, at most
--   one live booking per member and class.
-- * knowledge_documents: what JARVIS may say about the gym (rules, services, prices...),
--   searched by embedding (pgvector, cosine). `embedding_model` names the embedder that
--   produced `embedding`; a query is only compared with documents of its own embedder.
--
-- What a kiosk may do, and how:
--   * read its gym's classes, bookings and documents; book and cancel through RLS
--     (class_bookings insert/update, its own gym only);
--   * everything else through narrowly-scoped SECURITY DEFINER functions, because the
--     kiosk role has, on purpose, no right on those tables:
--       private.member_memory(member, n)        last n processed summaries of one member of
--                                               the calling kiosk's gym (summaries are
--                                               otherwise invisible to kiosks);
--       private.kiosk_gym_spend_today()         the calling kiosk's gym's Realtime spend
--                                               since local midnight (a kiosk only reads
--                                               its own sessions);
--       private.kiosk_raise_alert(...)          an `equipment_issue` or `staff_escalation`
--                                               alert for the calling kiosk's gym, and
--                                               nothing else (no insert policy for kiosks
--                                               on manager_alerts);
--       private.kiosk_update_fitness_goals(...) goals, target weight and weekly frequency of
--                                               a member of the calling kiosk's gym.
--     Each returns nothing useful (or raises 42501) when the caller is not a kiosk with a
--     valid credential, and checks the member belongs to that kiosk's gym.

-- ---------------------------------------------------------------------------------------
-- Voice session starts
-- ---------------------------------------------------------------------------------------

create table public.voice_session_starts (
    id uuid primary key,  -- made on the kiosk; the session record is uploaded under it
    gym_id uuid not null,
    kiosk_id uuid not null,
    member_id uuid not null,
    requested_at timestamptz not null default now(),
    status text not null default 'minting' check (status in ('minting', 'started', 'failed')),
    model text not null,
    voice text not null,
    language text not null,
    secret_expires_at timestamptz,
    ended_at timestamptz,
    end_reason text,
    error text,
    foreign key (kiosk_id, gym_id) references public.kiosks (id, gym_id) on delete cascade,
    foreign key (member_id, gym_id) references public.gym_members (id, gym_id)
        on delete cascade on update cascade
);
create index voice_session_starts_gym_id_idx on public.voice_session_starts (gym_id, requested_at desc);
create index voice_session_starts_kiosk_id_idx on public.voice_session_starts (kiosk_id);
create index voice_session_starts_member_idx on public.voice_session_starts (member_id, requested_at desc);

-- ---------------------------------------------------------------------------------------
-- Classes and bookings
-- ---------------------------------------------------------------------------------------

create table public.classes (
    id uuid primary key default gen_random_uuid(),
    gym_id uuid not null references public.gyms (id) on delete cascade,
    name text not null check (length(name) between 1 and 120),
    description text,
    coach text,
    room text,
    starts_at timestamptz not null,
    duration_min integer not null check (duration_min between 5 and 600),
    capacity integer not null check (capacity between 1 and 1000),
    -- Members who may queue once the class is full; 0 = no waitlist.
    waitlist_capacity integer not null default 0 check (waitlist_capacity between 0 and 1000),
    status text not null default 'scheduled' check (status in ('scheduled', 'cancelled')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint classes_id_gym_key unique (id, gym_id)
);
create index classes_gym_id_idx on public.classes (gym_id, starts_at);

create table public.class_bookings (
    id uuid primary key default gen_random_uuid(),
    class_id uuid not null,
    gym_id uuid not null,
    member_id uuid not null,
    status text not null check (status in ('booked', 'waitlisted', 'cancelled')),
    -- Where the booking was made: the kiosk and the voice session (null from the dashboard).
    kiosk_id uuid references public.kiosks (id) on delete set null,
    session_id uuid,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    cancelled_at timestamptz,
    foreign key (class_id, gym_id) references public.classes (id, gym_id)
        on delete cascade on update cascade,
    foreign key (member_id, gym_id) references public.gym_members (id, gym_id)
        on delete cascade on update cascade,
    constraint class_bookings_cancelled_at check ((status = 'cancelled') = (cancelled_at is not null))
);
-- No double booking: one live (booked or waitlisted) booking per member and class.
create unique index class_bookings_live_key on public.class_bookings (class_id, member_id)
    where status in ('booked', 'waitlisted');
create index class_bookings_class_idx on public.class_bookings (class_id, status, created_at);
create index class_bookings_gym_id_idx on public.class_bookings (gym_id);
create index class_bookings_member_idx on public.class_bookings (member_id, created_at desc);
create index class_bookings_kiosk_id_idx on public.class_bookings (kiosk_id);
create index class_bookings_session_id_idx on public.class_bookings (session_id);

-- ---------------------------------------------------------------------------------------
-- Knowledge documents
-- ---------------------------------------------------------------------------------------

create table public.knowledge_documents (
    id uuid primary key default gen_random_uuid(),
    gym_id uuid not null references public.gyms (id) on delete cascade,
    title text not null check (length(title) between 1 and 200),
    body text not null check (length(body) between 1 and 20000),
    language text not null default 'fr' check (language ~ '^[a-z]{2}$'),
    tags text[] not null default '{}',
    embedding extensions.vector(1536),
    -- The embedder that produced `embedding` (`local-hash-v1`, `text-embedding-3-small`...).
    embedding_model text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint knowledge_documents_title_key unique (gym_id, language, title),
    constraint knowledge_documents_embedding_model check ((embedding is null) = (embedding_model is null))
);
create index knowledge_documents_gym_id_idx on public.knowledge_documents (gym_id, embedding_model, language);
create index knowledge_documents_embedding_idx on public.knowledge_documents
    using hnsw (embedding extensions.vector_cosine_ops);

do $$
declare
    t text;
begin
    foreach t in array array['classes', 'class_bookings', 'knowledge_documents'] loop
        execute format(
            'create trigger %I before update on public.%I '
            'for each row execute function private.touch_updated_at()',
            t || '_touch_updated_at', t);
    end loop;
end
$$;

-- ---------------------------------------------------------------------------------------
-- Privileges and row-level security
-- ---------------------------------------------------------------------------------------

grant select, insert, update, delete on public.voice_session_starts, public.classes,
    public.class_bookings, public.knowledge_documents to authenticated, service_role;
revoke all on public.voice_session_starts, public.classes, public.class_bookings,
    public.knowledge_documents from anon;

alter table public.voice_session_starts enable row level security;
alter table public.classes enable row level security;
alter table public.class_bookings enable row level security;
alter table public.knowledge_documents enable row level security;

-- Reads: the gym's team, and the gym's kiosks (a kiosk counts a member's starts on every
-- kiosk of its gym, lists classes and bookings, searches the documents).
do $$
declare
    t text;
begin
    foreach t in array array['voice_session_starts', 'classes', 'class_bookings',
                             'knowledge_documents'] loop
        execute format($p$
            create policy %1$s_select on public.%1$I for select to authenticated
                using (
                    (select private.is_super_admin())
                    or gym_id = any ((select private.my_gym_ids())::uuid[])
                    or gym_id = (select private.kiosk_gym_id())
                )$p$, t);
    end loop;
end
$$;

-- Starts: a kiosk writes its own.
create policy voice_session_starts_insert on public.voice_session_starts for insert to authenticated
    with check (kiosk_id = (select private.kiosk_id()) and gym_id = (select private.kiosk_gym_id()));
create policy voice_session_starts_update on public.voice_session_starts for update to authenticated
    using (kiosk_id = (select private.kiosk_id()))
    with check (kiosk_id = (select private.kiosk_id()) and gym_id = (select private.kiosk_gym_id()));
create policy voice_session_starts_delete on public.voice_session_starts for delete to authenticated
    using ((select private.is_super_admin()));

-- Classes: the gym's team schedules them.
create policy classes_insert on public.classes for insert to authenticated
    with check ((select private.is_super_admin()) or gym_id = any ((select private.my_gym_ids())::uuid[]));
create policy classes_update on public.classes for update to authenticated
    using ((select private.is_super_admin()) or gym_id = any ((select private.my_gym_ids())::uuid[]))
    with check ((select private.is_super_admin()) or gym_id = any ((select private.my_gym_ids())::uuid[]));
create policy classes_delete on public.classes for delete to authenticated
    using ((select private.is_super_admin()) or gym_id = any ((select private.my_managed_gym_ids())::uuid[]));

-- Bookings: the gym's team and the gym's kiosks book and cancel; a kiosk files new bookings
-- under its own id. Which member may cancel which booking is the tool's rule (a member
-- cancels only their own); RLS keeps every booking inside its gym.
create policy class_bookings_insert on public.class_bookings for insert to authenticated
    with check (
        (select private.is_super_admin())
        or gym_id = any ((select private.my_gym_ids())::uuid[])
        or (gym_id = (select private.kiosk_gym_id()) and kiosk_id = (select private.kiosk_id()))
    );
create policy class_bookings_update on public.class_bookings for update to authenticated
    using (
        (select private.is_super_admin())
        or gym_id = any ((select private.my_gym_ids())::uuid[])
        or gym_id = (select private.kiosk_gym_id())
    )
    with check (
        (select private.is_super_admin())
        or gym_id = any ((select private.my_gym_ids())::uuid[])
        or gym_id = (select private.kiosk_gym_id())
    );
create policy class_bookings_delete on public.class_bookings for delete to authenticated
    using ((select private.is_super_admin()) or gym_id = any ((select private.my_managed_gym_ids())::uuid[]));

-- Knowledge: managers and owners curate it.
create policy knowledge_documents_insert on public.knowledge_documents for insert to authenticated
    with check ((select private.is_super_admin()) or gym_id = any ((select private.my_managed_gym_ids())::uuid[]));
create policy knowledge_documents_update on public.knowledge_documents for update to authenticated
    using ((select private.is_super_admin()) or gym_id = any ((select private.my_managed_gym_ids())::uuid[]))
    with check ((select private.is_super_admin()) or gym_id = any ((select private.my_managed_gym_ids())::uuid[]));
create policy knowledge_documents_delete on public.knowledge_documents for delete to authenticated
    using ((select private.is_super_admin()) or gym_id = any ((select private.my_managed_gym_ids())::uuid[]));

-- ---------------------------------------------------------------------------------------
-- Narrow definer functions for kiosks
-- ---------------------------------------------------------------------------------------

-- The last `p_limit` (at most 10) processed conversation summaries of one member of the
-- calling kiosk's gym, newest first. Anyone else gets no row.
create function private.member_memory(p_member_id uuid, p_limit integer)
returns table (session_id uuid, started_at timestamptz, summary_text text, key_topics text[],
               sentiment_label text)
language sql stable security definer
set search_path = ''
as $$
    select s.session_id, r.started_at, s.summary_text, s.key_topics, s.sentiment_label
    from public.conversation_summaries s
    join public.realtime_sessions r on r.id = s.session_id and r.gym_id = s.gym_id
    where s.member_id = p_member_id
      and s.gym_id = (select private.kiosk_gym_id())
      and s.status = 'done'
      and s.summary_text is not null
    order by r.started_at desc
    limit least(greatest(coalesce(p_limit, 0), 0), 10)
$$;

-- The calling kiosk's gym's Realtime spend (USD) since midnight in the gym's timezone;
-- 0 for anyone else.
create function private.kiosk_gym_spend_today() returns numeric
language sql stable security definer
set search_path = ''
as $$
    with g as (
        select g.id,
               (date_trunc('day', now() at time zone g.timezone) at time zone g.timezone) as since
        from public.gyms g
        where g.id = (select private.kiosk_gym_id())
    )
    select coalesce(sum(s.cost_usd), 0)
    from g join public.realtime_sessions s on s.gym_id = g.id and s.started_at >= g.since
$$;

-- An equipment issue or a staff escalation raised by the calling kiosk for its own gym. The
-- same alert raised again within ten minutes (the assistant retrying) is not duplicated.
create function private.kiosk_raise_alert(
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

    select a.id into v_alert from public.manager_alerts a
    where a.gym_id = v_gym and a.status = 'pending'
      and a.created_at > now() - interval '10 minutes'
      and a.kiosk_id = v_kiosk and a.alert_type = p_alert_type
      and a.member_id is not distinct from p_member_id and a.title = p_title
    order by a.created_at desc
    limit 1;
    if v_alert is not null then
        return query select v_alert, false;
        return;
    end if;

    insert into public.manager_alerts (gym_id, member_id, kiosk_id, alert_type, priority, title,
                                       description, context)
    values (v_gym, p_member_id, v_kiosk, p_alert_type, p_priority, p_title, p_description,
            coalesce(p_context, '{}'::jsonb))
    returning id into v_alert;
    insert into public.audit_log (actor_type, actor_id, gym_id, action, target_type, target_id,
                                  details)
    values ('kiosk', v_kiosk, v_gym, 'alert.raised', 'manager_alert', v_alert::text,
            jsonb_build_object('alert_type', p_alert_type, 'priority', p_priority,
                               'member_id', p_member_id));
    return query select v_alert, true;
end
$$;

-- Goals, target weight and weekly frequency of a member of the calling kiosk's gym; a null
-- argument leaves that field as it is. Returns the profile after the change.
create function private.kiosk_update_fitness_goals(
    p_member_id uuid,
    p_goals text[],
    p_target_weight_kg numeric,
    p_workout_frequency_per_week integer
) returns table (primary_goals text[], target_weight_kg numeric, current_weight_kg numeric,
                 workout_frequency_per_week integer)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    v_kiosk uuid := private.kiosk_id();
    v_gym uuid;
    v_before jsonb;
begin
    if v_kiosk is null then
        raise exception 'only a kiosk with a valid credential updates goals this way'
            using errcode = '42501';
    end if;
    select k.gym_id into v_gym from public.kiosks k where k.id = v_kiosk;
    if not exists (
        select 1 from public.gym_members m where m.id = p_member_id and m.gym_id = v_gym
    ) then
        raise exception 'the member does not belong to this kiosk''s gym' using errcode = '42501';
    end if;
    if cardinality(p_goals) > 6 then
        raise exception 'at most 6 goals' using errcode = '22023';
    end if;

    select jsonb_build_object('primary_goals', f.primary_goals,
                              'target_weight_kg', f.target_weight_kg,
                              'workout_frequency_per_week', f.workout_frequency_per_week)
    into v_before
    from public.member_fitness_profile f where f.member_id = p_member_id;

    insert into public.member_fitness_profile as f
        (member_id, gym_id, primary_goals, target_weight_kg, workout_frequency_per_week)
    values (p_member_id, v_gym, coalesce(p_goals, '{}'), p_target_weight_kg,
            p_workout_frequency_per_week)
    on conflict (member_id) do update
    set primary_goals = coalesce(p_goals, f.primary_goals),
        target_weight_kg = coalesce(p_target_weight_kg, f.target_weight_kg),
        workout_frequency_per_week = coalesce(p_workout_frequency_per_week,
                                              f.workout_frequency_per_week),
        updated_at = now();

    insert into public.audit_log (actor_type, actor_id, gym_id, action, target_type, target_id,
                                  details)
    values ('kiosk', v_kiosk, v_gym, 'member.goals_updated', 'member', p_member_id::text,
            jsonb_build_object('before', v_before,
                               'goals', p_goals,
                               'target_weight_kg', p_target_weight_kg,
                               'workout_frequency_per_week', p_workout_frequency_per_week));

    return query
    select f.primary_goals, f.target_weight_kg::numeric, f.current_weight_kg::numeric,
           f.workout_frequency_per_week
    from public.member_fitness_profile f where f.member_id = p_member_id;
end
$$;

revoke all on function private.member_memory(uuid, integer),
    private.kiosk_gym_spend_today(),
    private.kiosk_raise_alert(text, text, text, text, uuid, jsonb),
    private.kiosk_update_fitness_goals(uuid, text[], numeric, integer)
from public, anon;
grant execute on function private.member_memory(uuid, integer),
    private.kiosk_gym_spend_today(),
    private.kiosk_raise_alert(text, text, text, text, uuid, jsonb),
    private.kiosk_update_fitness_goals(uuid, text[], numeric, integer)
to authenticated;
