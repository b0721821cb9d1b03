-- The cloud data model (from the customer's architecture document).
--
-- Multi-tenant hierarchy: franchises → gyms → kiosks / members → sessions, conversations,
-- analytics, alerts. Every row below a gym carries `gym_id` (indexed) so that row-level
-- security can decide access with one indexed comparison. Where a child row also names a
-- parent that belongs to a gym, a composite foreign key (parent_id, gym_id) guarantees the
-- two agree: a row can never point at one gym's member while being filed under another gym.
--
-- Deviations from the customer document, on purpose:
--   * `gym_members_v2` is called `gym_members`; `openai_realtime_sessions` is `realtime_sessions`.
--   * a badge is unique within a gym (unique (gym_id, badge_id)), not globally: two gyms'
--     readers can hand out the same card numbers.
--   * provisioning codes are stored hashed (`provisioning_code_hash`) with an expiry, never
--     in clear.
--   * members carry `membership_expires_on` (the churn rules need it); `is_active = false`
--     means suspended by staff.

create type public.user_role as enum ('super_admin', 'franchise_owner', 'gym_manager', 'gym_staff');

create schema if not exists private;
revoke all on schema private from public;

create function private.touch_updated_at() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    new.updated_at := now();
    return new;
end
$$;

-- ---------------------------------------------------------------------------------------
-- Organisation
-- ---------------------------------------------------------------------------------------

create table public.franchises (
    id uuid primary key default gen_random_uuid(),
    slug text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name text not null check (length(name) between 1 and 200),
    city text,
    status text not null default 'active' check (status in ('active', 'suspended', 'trial')),
    subscription_plan text not null default 'starter'
        check (subscription_plan in ('starter', 'pro', 'enterprise')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table public.gyms (
    id uuid primary key default gen_random_uuid(),
    franchise_id uuid references public.franchises (id) on delete restrict,
    slug text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name text not null check (length(name) between 1 and 200),
    city text,
    address text,
    timezone text not null default 'Europe/Paris',
    status text not null default 'active' check (status in ('active', 'maintenance', 'suspended')),
    -- {"mon": [["06:00","22:00"]], ..., "sun": []}: each day a list of open intervals.
    opening_hours jsonb not null default '{}'::jsonb check (jsonb_typeof(opening_hours) = 'object'),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index gyms_franchise_id_idx on public.gyms (franchise_id);

-- Dashboard users: one row per auth.users account, carrying the role and the scope.
create table public.users (
    id uuid primary key references auth.users (id) on delete cascade,
    email text not null unique,
    full_name text,
    role public.user_role not null,
    franchise_id uuid references public.franchises (id) on delete restrict,
    gym_id uuid references public.gyms (id) on delete restrict,
    mfa_enabled boolean not null default false,
    is_active boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint users_scope_matches_role check (
        (role = 'super_admin' and franchise_id is null and gym_id is null)
        or (role = 'franchise_owner' and franchise_id is not null and gym_id is null)
        or (role in ('gym_manager', 'gym_staff') and gym_id is not null)
    )
);
create index users_franchise_id_idx on public.users (franchise_id);
create index users_gym_id_idx on public.users (gym_id);

-- ---------------------------------------------------------------------------------------
-- Kiosks
-- ---------------------------------------------------------------------------------------

create table public.kiosks (
    id uuid primary key default gen_random_uuid(),
    gym_id uuid not null references public.gyms (id) on delete cascade,
    slug text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name text not null check (length(name) between 1 and 200),
    -- The six-character code is shown once to the installer; only its hash is kept.
    provisioning_code_hash text unique,
    provisioning_code_expires_at timestamptz,
    status text not null default 'provisioning'
        check (status in ('online', 'offline', 'error', 'provisioning', 'maintenance')),
    last_heartbeat timestamptz,
    last_seen_ip text,
    device_id text unique,
    hardware_info jsonb not null default '{}'::jsonb,
    software_version text,
    voice_model text not null default 'alloy',
    language text not null default 'fr',
    openai_model text not null default 'gpt-realtime-mini',
    location_in_gym text,
    notes text,
    provisioned_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint kiosks_id_gym_key unique (id, gym_id),
    constraint kiosks_code_has_expiry check (
        provisioning_code_hash is null or provisioning_code_expires_at is not null
    )
);
create index kiosks_gym_id_idx on public.kiosks (gym_id);
create index kiosks_status_idx on public.kiosks (status);

create table public.kiosk_heartbeats (
    id bigint generated always as identity primary key,
    kiosk_id uuid not null,
    gym_id uuid not null,
    received_at timestamptz not null default now(),
    status text not null check (status in ('online', 'offline', 'error', 'provisioning', 'maintenance')),
    software_version text,
    ip text,
    cpu_percent real,
    cpu_temp_c real,
    memory_percent real,
    disk_percent real,
    mic_ok boolean,
    reader_ok boolean,
    network_ok boolean,
    outbox_depth integer check (outbox_depth >= 0),
    last_error text,
    health jsonb not null default '{}'::jsonb,
    foreign key (kiosk_id, gym_id) references public.kiosks (id, gym_id) on delete cascade
);
create index kiosk_heartbeats_kiosk_received_idx on public.kiosk_heartbeats (kiosk_id, received_at desc);
create index kiosk_heartbeats_gym_id_idx on public.kiosk_heartbeats (gym_id);
create index kiosk_heartbeats_received_at_idx on public.kiosk_heartbeats (received_at);

-- ---------------------------------------------------------------------------------------
-- Members
-- ---------------------------------------------------------------------------------------

create table public.gym_members (
    id uuid primary key default gen_random_uuid(),
    gym_id uuid not null references public.gyms (id) on delete cascade,
    -- Canonical badge id (contract.badge.normalize_badge): uppercase hex, no separators.
    badge_id text not null check (badge_id ~ '^([0-9A-F]{2}){3,10}$'),
    first_name text not null,
    last_name text,
    email text,
    phone text,
    membership_type text not null default 'standard',
    is_active boolean not null default true,
    member_since date not null default current_date,
    membership_expires_on date,
    last_visit timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint gym_members_badge_per_gym_key unique (gym_id, badge_id),
    constraint gym_members_id_gym_key unique (id, gym_id)
);
create index gym_members_updated_at_idx on public.gym_members (gym_id, updated_at);

create table public.member_fitness_profile (
    member_id uuid primary key,
    gym_id uuid not null,
    height_cm integer check (height_cm between 80 and 260),
    current_weight_kg numeric(5, 1) check (current_weight_kg between 20 and 400),
    target_weight_kg numeric(5, 1) check (target_weight_kg between 20 and 400),
    fitness_level text check (fitness_level in ('beginner', 'intermediate', 'advanced')),
    primary_goals text[] not null default '{}',
    workout_frequency_per_week integer check (workout_frequency_per_week between 0 and 21),
    injuries text,
    updated_at timestamptz not null default now(),
    foreign key (member_id, gym_id) references public.gym_members (id, gym_id)
        on delete cascade on update cascade
);
create index member_fitness_profile_gym_id_idx on public.member_fitness_profile (gym_id);

create table public.member_preferences (
    member_id uuid primary key,
    gym_id uuid not null,
    communication_style text not null default 'friendly'
        check (communication_style in ('encouraging', 'direct', 'friendly', 'motivational', 'calm')),
    language text not null default 'fr' check (language ~ '^[a-z]{2}$'),
    voice_preference text,
    updated_at timestamptz not null default now(),
    foreign key (member_id, gym_id) references public.gym_members (id, gym_id)
        on delete cascade on update cascade
);
create index member_preferences_gym_id_idx on public.member_preferences (gym_id);

-- ---------------------------------------------------------------------------------------
-- Voice sessions and conversations
-- ---------------------------------------------------------------------------------------

create table public.realtime_sessions (
    -- Made on the kiosk: uploads are idempotent on it.
    id uuid primary key,
    gym_id uuid not null,
    kiosk_id uuid not null,
    member_id uuid references public.gym_members (id) on delete set null,
    started_at timestamptz not null,
    ended_at timestamptz,
    duration_seconds numeric(10, 2) generated always as (
        extract(epoch from (ended_at - started_at))
    ) stored,
    status text not null default 'closed' check (status in ('active', 'closed', 'failed')),
    end_reason text check (end_reason in (
        'goodbye', 'idle_timeout', 'max_duration', 'new_badge', 'tool_end_session',
        'network_error', 'realtime_error', 'budget_exceeded', 'kiosk_shutdown', 'cancelled'
    )),
    model text,
    voice text,
    language text,
    -- Usage by token kind, as OpenAI reports it in response.done.
    input_text_tokens integer not null default 0 check (input_text_tokens >= 0),
    input_audio_tokens integer not null default 0 check (input_audio_tokens >= 0),
    input_cached_tokens integer not null default 0 check (input_cached_tokens >= 0),
    output_text_tokens integer not null default 0 check (output_text_tokens >= 0),
    output_audio_tokens integer not null default 0 check (output_audio_tokens >= 0),
    transcription_tokens integer not null default 0 check (transcription_tokens >= 0),
    total_tokens integer generated always as (
        input_text_tokens + input_audio_tokens + output_text_tokens + output_audio_tokens
        + transcription_tokens
    ) stored,
    cost_usd numeric(10, 5) not null default 0 check (cost_usd >= 0),
    turn_count integer not null default 0 check (turn_count >= 0),
    -- Latency figures (ms): end of member speech → first audio received / first audio played.
    first_response_ms integer,
    avg_response_ms integer,
    p95_response_ms integer,
    avg_playback_ms integer,
    tool_calls jsonb not null default '[]'::jsonb,
    errors jsonb not null default '[]'::jsonb,
    received_at timestamptz not null default now(),
    constraint realtime_sessions_id_gym_key unique (id, gym_id),
    constraint realtime_sessions_times check (ended_at is null or ended_at >= started_at),
    foreign key (kiosk_id, gym_id) references public.kiosks (id, gym_id) on delete cascade
);
create index realtime_sessions_gym_started_idx on public.realtime_sessions (gym_id, started_at desc);
create index realtime_sessions_kiosk_id_idx on public.realtime_sessions (kiosk_id);
create index realtime_sessions_member_started_idx on public.realtime_sessions (member_id, started_at desc);

create table public.conversation_turns (
    id bigint generated always as identity primary key,
    session_id uuid not null,
    gym_id uuid not null,
    turn_index integer not null check (turn_index >= 0),
    role text not null check (role in ('user', 'assistant', 'tool')),
    content text not null default '',
    item_id text,
    started_at timestamptz,
    audio_ms integer check (audio_ms >= 0),
    constraint conversation_turns_session_index_key unique (session_id, turn_index),
    foreign key (session_id, gym_id) references public.realtime_sessions (id, gym_id)
        on delete cascade
);
create index conversation_turns_gym_id_idx on public.conversation_turns (gym_id);

create table public.conversation_summaries (
    id uuid primary key default gen_random_uuid(),
    session_id uuid not null unique,
    gym_id uuid not null,
    member_id uuid references public.gym_members (id) on delete cascade,
    kiosk_id uuid references public.kiosks (id) on delete set null,
    status text not null default 'pending' check (status in ('pending', 'processing', 'done', 'failed')),
    summary_text text,
    key_topics text[] not null default '{}',
    sentiment_score numeric(3, 2) check (sentiment_score between -1 and 1),
    sentiment_label text check (sentiment_label in ('negative', 'neutral', 'positive')),
    emotion_detected text,
    intents_detected text[] not null default '{}',
    action_items jsonb not null default '[]'::jsonb,
    embedding extensions.vector(1536),
    error text,
    created_at timestamptz not null default now(),
    processed_at timestamptz,
    foreign key (session_id, gym_id) references public.realtime_sessions (id, gym_id)
        on delete cascade
);
create index conversation_summaries_member_id_idx on public.conversation_summaries (member_id, created_at desc);
create index conversation_summaries_gym_id_idx on public.conversation_summaries (gym_id);
create index conversation_summaries_kiosk_id_idx on public.conversation_summaries (kiosk_id);
create index conversation_summaries_sentiment_idx on public.conversation_summaries (sentiment_label);
create index conversation_summaries_pending_idx on public.conversation_summaries (created_at)
    where status = 'pending';

-- ---------------------------------------------------------------------------------------
-- Analytics, alerts, reports
-- ---------------------------------------------------------------------------------------

create table public.member_analytics (
    member_id uuid primary key,
    gym_id uuid not null,
    total_conversations integer not null default 0,
    total_session_duration_seconds integer not null default 0,
    avg_session_duration_seconds numeric(10, 2),
    last_conversation_at timestamptz,
    conversation_frequency text check (conversation_frequency in ('daily', 'weekly', 'monthly', 'rare')),
    avg_sentiment_score numeric(3, 2) check (avg_sentiment_score between -1 and 1),
    sentiment_trend text check (sentiment_trend in ('improving', 'stable', 'declining')),
    negative_sentiment_count integer not null default 0,
    positive_sentiment_count integer not null default 0,
    churn_risk_score numeric(3, 2) check (churn_risk_score between 0 and 1),
    churn_risk_level text check (churn_risk_level in ('low', 'medium', 'high', 'critical')),
    churn_factors jsonb not null default '[]'::jsonb,
    last_churn_analysis_at timestamptz,
    engagement_score numeric(3, 2) check (engagement_score between 0 and 1),
    days_since_last_visit integer,
    visit_frequency_per_week numeric(4, 2),
    updated_at timestamptz not null default now(),
    foreign key (member_id, gym_id) references public.gym_members (id, gym_id)
        on delete cascade on update cascade
);
create index member_analytics_gym_churn_idx on public.member_analytics (gym_id, churn_risk_score desc nulls last);
create index member_analytics_churn_level_idx on public.member_analytics (churn_risk_level);
create index member_analytics_engagement_idx on public.member_analytics (engagement_score);

create table public.manager_alerts (
    id uuid primary key default gen_random_uuid(),
    gym_id uuid not null references public.gyms (id) on delete cascade,
    member_id uuid references public.gym_members (id) on delete cascade,
    kiosk_id uuid references public.kiosks (id) on delete cascade,
    alert_type text not null check (alert_type in (
        'churn_risk', 'negative_feedback', 'equipment_issue', 'milestone', 'staff_escalation',
        'kiosk_offline', 'budget', 'other'
    )),
    priority text not null default 'medium' check (priority in ('low', 'medium', 'high', 'urgent')),
    title text not null,
    description text,
    recommended_actions jsonb not null default '[]'::jsonb,
    context jsonb not null default '{}'::jsonb,
    status text not null default 'pending'
        check (status in ('pending', 'in_progress', 'resolved', 'dismissed')),
    assigned_to uuid references public.users (id) on delete set null,
    resolved_at timestamptz,
    resolution_notes text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index manager_alerts_gym_status_idx on public.manager_alerts (gym_id, status, created_at desc);
create index manager_alerts_status_idx on public.manager_alerts (status);
create index manager_alerts_priority_idx on public.manager_alerts (priority);
create index manager_alerts_member_id_idx on public.manager_alerts (member_id);
create index manager_alerts_kiosk_id_idx on public.manager_alerts (kiosk_id);
create index manager_alerts_assigned_to_idx on public.manager_alerts (assigned_to);

create table public.insights_reports (
    id uuid primary key default gen_random_uuid(),
    gym_id uuid references public.gyms (id) on delete cascade,
    franchise_id uuid references public.franchises (id) on delete cascade,
    report_type text not null check (report_type in ('daily', 'weekly', 'monthly', 'quarterly')),
    period_start timestamptz not null,
    period_end timestamptz not null,
    title text not null,
    summary text,
    insights jsonb not null default '[]'::jsonb,
    metrics jsonb not null default '{}'::jsonb,
    recommendations jsonb not null default '[]'::jsonb,
    trends jsonb not null default '{}'::jsonb,
    status text not null default 'draft' check (status in ('draft', 'published', 'archived')),
    generated_at timestamptz not null default now(),
    published_at timestamptz,
    constraint insights_reports_scope check (gym_id is not null or franchise_id is not null),
    constraint insights_reports_period check (period_end > period_start)
);
create index insights_reports_gym_id_idx on public.insights_reports (gym_id);
create index insights_reports_franchise_id_idx on public.insights_reports (franchise_id);
create index insights_reports_type_idx on public.insights_reports (report_type);
create index insights_reports_period_idx on public.insights_reports (period_start, period_end);

-- Append-only record of who did what: provisioning, credentials, role changes, logins.
create table public.audit_log (
    id bigint generated always as identity primary key,
    occurred_at timestamptz not null default now(),
    actor_type text not null check (actor_type in ('user', 'kiosk', 'system', 'anonymous')),
    actor_id uuid,
    gym_id uuid references public.gyms (id) on delete set null,
    franchise_id uuid references public.franchises (id) on delete set null,
    action text not null check (action ~ '^[a-z_]+\.[a-z_.]+$'),
    target_type text,
    target_id text,
    source_ip text,
    details jsonb not null default '{}'::jsonb
);
create index audit_log_gym_id_idx on public.audit_log (gym_id, occurred_at desc);
create index audit_log_franchise_id_idx on public.audit_log (franchise_id);
create index audit_log_actor_id_idx on public.audit_log (actor_id);

-- ---------------------------------------------------------------------------------------
-- updated_at maintenance
-- ---------------------------------------------------------------------------------------

do $$
declare
    t text;
begin
    foreach t in array array['franchises', 'gyms', 'users', 'kiosks', 'gym_members',
                             'member_fitness_profile', 'member_preferences',
                             'member_analytics', 'manager_alerts']
    loop
        execute format(
            'create trigger %I before update on public.%I '
            'for each row execute function private.touch_updated_at()',
            t || '_touch_updated_at', t);
    end loop;
end
$$;
