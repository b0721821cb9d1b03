-- Kiosk identity: provisioning codes, per-kiosk credentials, commands and events.
--
-- * A provisioning code is six characters shown once to the installer; only its SHA-256
--   is stored (kiosks.provisioning_code_hash) with its expiry, and it is consumed atomically
--   by private.claim_kiosk(): two concurrent claims of one code → exactly one succeeds.
-- * Failed claims are recorded and limited per code, per source address and globally; past
--   a limit every claim is refused for a while, even with the right code.
-- * A claim issues a per-kiosk credential (256 random bits, stored as SHA-256: a fast hash is
--   right for a high-entropy secret) and revokes every earlier one. The credential is only
--   ever exchanged for short-lived tokens; each token names its credential (`cid` claim) and
--   private.kiosk_id() checks that credential on every statement, so revocation takes effect
--   on the next request. Rotation keeps the old credential valid for an overlap window.
-- * Pending commands (rotate the credential, re-provision) ride on heartbeat answers.

alter table public.kiosks
    add column provisioning_code_created_at timestamptz,
    add column provisioning_code_used_at timestamptz;

create table public.kiosk_credentials (
    id uuid primary key default gen_random_uuid(),
    kiosk_id uuid not null,
    gym_id uuid not null,
    secret_hash text not null unique check (secret_hash ~ '^[0-9a-f]{64}$'),
    created_at timestamptz not null default now(),
    -- Set when a rotation supersedes this credential: valid until then (the overlap window).
    expires_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz,
    foreign key (kiosk_id, gym_id) references public.kiosks (id, gym_id)
        on delete cascade on update cascade
);
create index kiosk_credentials_kiosk_id_idx on public.kiosk_credentials (kiosk_id);
create index kiosk_credentials_gym_id_idx on public.kiosk_credentials (gym_id);

create table public.provisioning_attempts (
    id bigint generated always as identity primary key,
    attempted_at timestamptz not null default now(),
    source_ip text not null,
    code_hash text not null,
    -- The kiosk whose code this was, when the code exists.
    kiosk_id uuid references public.kiosks (id) on delete cascade,
    gym_id uuid references public.gyms (id) on delete cascade,
    outcome text not null check (outcome in (
        'claimed', 'code_invalid', 'code_expired', 'code_used', 'rate_limited'))
);
create index provisioning_attempts_at_idx on public.provisioning_attempts (attempted_at);
create index provisioning_attempts_source_idx on public.provisioning_attempts (source_ip, attempted_at);
create index provisioning_attempts_code_idx on public.provisioning_attempts (code_hash, attempted_at);
create index provisioning_attempts_kiosk_id_idx on public.provisioning_attempts (kiosk_id, attempted_at);
create index provisioning_attempts_gym_id_idx on public.provisioning_attempts (gym_id);

create table public.kiosk_commands (
    id uuid primary key default gen_random_uuid(),
    kiosk_id uuid not null,
    gym_id uuid not null,
    kind text not null check (kind in ('rotate_credential', 'reprovision')),
    reason text not null default '',
    created_by uuid references public.users (id) on delete set null,
    created_at timestamptz not null default now(),
    completed_at timestamptz,
    foreign key (kiosk_id, gym_id) references public.kiosks (id, gym_id)
        on delete cascade on update cascade
);
create index kiosk_commands_kiosk_id_idx on public.kiosk_commands (kiosk_id) where completed_at is null;
create index kiosk_commands_gym_id_idx on public.kiosk_commands (gym_id);

create table public.kiosk_events (
    id uuid primary key,  -- made on the kiosk: uploads are idempotent on it
    kiosk_id uuid not null,
    gym_id uuid not null,
    kind text not null check (kind in (
        'badge_refused', 'badge_unknown', 'session_refused', 'agent_started', 'agent_error')),
    occurred_at timestamptz not null,
    badge_id text,
    member_id uuid references public.gym_members (id) on delete set null,
    detail jsonb not null default '{}'::jsonb,
    received_at timestamptz not null default now(),
    foreign key (kiosk_id, gym_id) references public.kiosks (id, gym_id) on delete cascade
);
create index kiosk_events_gym_id_idx on public.kiosk_events (gym_id, occurred_at desc);
create index kiosk_events_kiosk_id_idx on public.kiosk_events (kiosk_id);

-- Deleted members leave a tombstone so kiosks' offline caches forget their badges too.
create table public.gym_member_deletions (
    id bigint generated always as identity primary key,
    gym_id uuid not null references public.gyms (id) on delete cascade,
    badge_id text not null,
    deleted_at timestamptz not null default now()
);
create index gym_member_deletions_gym_id_idx on public.gym_member_deletions (gym_id, deleted_at, id);

create index gym_members_sync_idx on public.gym_members (gym_id, updated_at, id);

-- ---------------------------------------------------------------------------------------
-- A kiosk is recognised only while the credential its token names is still valid.
-- ---------------------------------------------------------------------------------------

create or replace function private.kiosk_id() returns uuid
language sql stable security definer
set search_path = ''
as $$
    select k.id
    from public.kiosks k
    join public.kiosk_credentials c on c.kiosk_id = k.id
    where (auth.jwt() ->> 'jarvis_role') = 'kiosk'
      and k.id = auth.uid()
      and c.id = nullif(auth.jwt() ->> 'cid', '')::uuid
      and c.revoked_at is null
      and (c.expires_at is null or c.expires_at > now())
$$;

create or replace function private.kiosk_gym_id() returns uuid
language sql stable security definer
set search_path = ''
as $$
    select k.gym_id from public.kiosks k where k.id = private.kiosk_id()
$$;

-- ---------------------------------------------------------------------------------------
-- Claiming a code (called by the API as `anon`: the installer's kiosk has no identity yet)
-- ---------------------------------------------------------------------------------------

create function private.claim_kiosk(
    p_code_hash text,
    p_device_id text,
    p_hardware jsonb,
    p_software_version text,
    p_source_ip text,
    p_credential_hash text,
    p_window interval,
    p_max_per_code integer,
    p_max_per_source integer,
    p_max_global integer
) returns table (
    outcome text, retry_after_s integer, kiosk_id uuid, kiosk_slug text, kiosk_name text,
    gym_id uuid, gym_slug text, gym_name text, voice text, language text, openai_model text
)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    v_kiosk public.kiosks;
    v_failures_code integer;
    v_failures_source integer;
    v_failures_global integer;
    v_oldest timestamptz;
    v_outcome text;
begin
    -- Serialise claims: the limits below must see every earlier attempt.
    perform pg_advisory_xact_lock(hashtext('jarvis.claim_kiosk'));

    select * into v_kiosk from public.kiosks k where k.provisioning_code_hash = p_code_hash;

    select count(*) into v_failures_global from public.provisioning_attempts a
    where a.attempted_at > now() - p_window and a.outcome <> 'claimed';
    select count(*) into v_failures_source from public.provisioning_attempts a
    where a.attempted_at > now() - p_window and a.outcome <> 'claimed'
      and a.source_ip = p_source_ip;
    select count(*) into v_failures_code from public.provisioning_attempts a
    where a.code_hash = p_code_hash
      and a.attempted_at > now() - p_window and a.outcome <> 'claimed';

    if v_failures_global >= p_max_global
       or v_failures_source >= p_max_per_source
       or v_failures_code >= p_max_per_code then
        select min(a.attempted_at) into v_oldest from public.provisioning_attempts a
        where a.attempted_at > now() - p_window and a.outcome <> 'claimed'
          and (v_failures_global >= p_max_global
               or a.source_ip = p_source_ip
               or a.code_hash = p_code_hash);
        insert into public.provisioning_attempts (source_ip, code_hash, kiosk_id, gym_id, outcome)
        values (p_source_ip, p_code_hash, v_kiosk.id, v_kiosk.gym_id, 'rate_limited');
        insert into public.audit_log (actor_type, gym_id, action, target_type, target_id, source_ip, details)
        values ('anonymous', v_kiosk.gym_id, 'kiosk.claim_rate_limited', 'kiosk', v_kiosk.id::text,
                p_source_ip, jsonb_build_object('device_id', p_device_id));
        return query select 'rate_limited'::text,
            greatest(1, ceil(extract(epoch from (v_oldest + p_window - now())))::integer),
            null::uuid, null::text, null::text, null::uuid, null::text, null::text,
            null::text, null::text, null::text;
        return;
    end if;

    if v_kiosk.id is null then
        v_outcome := 'code_invalid';
    elsif v_kiosk.provisioning_code_used_at is not null then
        v_outcome := 'code_used';
    elsif v_kiosk.provisioning_code_expires_at <= now() then
        v_outcome := 'code_expired';
    else
        v_outcome := 'claimed';
    end if;

    insert into public.provisioning_attempts (source_ip, code_hash, kiosk_id, gym_id, outcome)
    values (p_source_ip, p_code_hash, v_kiosk.id, v_kiosk.gym_id, v_outcome);

    if v_outcome <> 'claimed' then
        insert into public.audit_log (actor_type, gym_id, action, target_type, target_id, source_ip, details)
        values ('anonymous', v_kiosk.gym_id, 'kiosk.claim_failed', 'kiosk', v_kiosk.id::text,
                p_source_ip, jsonb_build_object('reason', v_outcome, 'device_id', p_device_id));
        return query select v_outcome, null::integer, null::uuid, null::text, null::text,
            null::uuid, null::text, null::text, null::text, null::text, null::text;
        return;
    end if;

    -- Another kiosk row may still hold this device (a box moved to another gym): release it.
    update public.kiosks k set device_id = null
    where k.device_id = p_device_id and k.id <> v_kiosk.id;

    update public.kiosks k
    set provisioning_code_used_at = now(),
        device_id = p_device_id,
        hardware_info = coalesce(p_hardware, '{}'::jsonb),
        software_version = coalesce(p_software_version, k.software_version),
        provisioned_at = now(),
        status = 'offline'
    where k.id = v_kiosk.id;

    -- Re-provisioning revokes every earlier credential at once.
    update public.kiosk_credentials c set revoked_at = now()
    where c.kiosk_id = v_kiosk.id and c.revoked_at is null;
    insert into public.kiosk_credentials (kiosk_id, gym_id, secret_hash)
    values (v_kiosk.id, v_kiosk.gym_id, p_credential_hash);
    update public.kiosk_commands c set completed_at = now()
    where c.kiosk_id = v_kiosk.id and c.completed_at is null;

    insert into public.audit_log (actor_type, actor_id, gym_id, action, target_type, target_id, source_ip, details)
    values ('kiosk', v_kiosk.id, v_kiosk.gym_id, 'kiosk.claimed', 'kiosk', v_kiosk.id::text,
            p_source_ip, jsonb_build_object('device_id', p_device_id));

    return query
    select 'claimed'::text, null::integer, k.id, k.slug, k.name, g.id, g.slug, g.name,
           k.voice_model, k.language, k.openai_model
    from public.kiosks k join public.gyms g on g.id = k.gym_id
    where k.id = v_kiosk.id;
end
$$;

-- Exchanging a credential for a token: returns the credential id when the pair is valid.
create function private.kiosk_credential_check(p_kiosk_id uuid, p_secret_hash text)
returns uuid
language sql volatile security definer
set search_path = ''
as $$
    update public.kiosk_credentials c
    set last_used_at = now()
    where c.kiosk_id = p_kiosk_id
      and c.secret_hash = p_secret_hash
      and c.revoked_at is null
      and (c.expires_at is null or c.expires_at > now())
    returning c.id
$$;

-- Rotation, by the kiosk itself: the new credential, and the old one kept for the overlap.
create function private.rotate_kiosk_credential(p_new_hash text, p_overlap interval)
returns timestamptz
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    v_kiosk uuid := private.kiosk_id();
    v_gym uuid;
    v_until timestamptz := now() + p_overlap;
begin
    if v_kiosk is null then
        raise exception 'no valid kiosk credential' using errcode = '42501';
    end if;
    select k.gym_id into v_gym from public.kiosks k where k.id = v_kiosk;
    update public.kiosk_credentials c
    set expires_at = least(coalesce(c.expires_at, v_until), v_until)
    where c.kiosk_id = v_kiosk and c.revoked_at is null;
    insert into public.kiosk_credentials (kiosk_id, gym_id, secret_hash)
    values (v_kiosk, v_gym, p_new_hash);
    update public.kiosk_commands c set completed_at = now()
    where c.kiosk_id = v_kiosk and c.kind = 'rotate_credential' and c.completed_at is null;
    insert into public.audit_log (actor_type, actor_id, gym_id, action, target_type, target_id, details)
    values ('kiosk', v_kiosk, v_gym, 'kiosk.credential_rotated', 'kiosk', v_kiosk::text,
            jsonb_build_object('old_valid_until', v_until));
    return v_until;
end
$$;

revoke all on all functions in schema private from public, anon;
grant usage on schema private to anon;
grant execute on function private.claim_kiosk(text, text, jsonb, text, text, text, interval, integer, integer, integer) to anon;
grant execute on function private.kiosk_credential_check(uuid, text) to anon;
grant execute on function private.rotate_kiosk_credential(text, interval) to authenticated;
grant execute on function private.kiosk_id(), private.kiosk_gym_id() to authenticated;

-- ---------------------------------------------------------------------------------------
-- A stored session starts the pipeline (customer document: on_session_end) and counts as a
-- visit. The kiosk has no right on summaries or members, hence a definer trigger.
-- ---------------------------------------------------------------------------------------

create function private.on_session_stored() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    if new.status = 'closed' then
        insert into public.conversation_summaries (session_id, gym_id, member_id, kiosk_id, status)
        values (new.id, new.gym_id, new.member_id, new.kiosk_id, 'pending')
        on conflict (session_id) do nothing;
    end if;
    if new.member_id is not null then
        update public.gym_members m
        set last_visit = greatest(coalesce(m.last_visit, new.started_at), new.started_at)
        where m.id = new.member_id;
    end if;
    return null;
end
$$;
create trigger realtime_sessions_stored after insert on public.realtime_sessions
    for each row execute function private.on_session_stored();

-- A member's preferences and profile are part of what kiosks cache: changing them makes the
-- member "changed" for the delta sync.
create function private.touch_member() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    update public.gym_members m set updated_at = now() where m.id = new.member_id;
    return null;
end
$$;
create trigger member_preferences_touch_member after insert or update on public.member_preferences
    for each row execute function private.touch_member();

create function private.remember_member_deletion() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    insert into public.gym_member_deletions (gym_id, badge_id) values (old.gym_id, old.badge_id);
    return null;
end
$$;
create trigger gym_members_remember_deletion after delete on public.gym_members
    for each row execute function private.remember_member_deletion();

-- Changing a member's badge or moving them to another gym also tombstones the old badge.
create function private.remember_badge_change() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    if new.badge_id is distinct from old.badge_id or new.gym_id is distinct from old.gym_id then
        insert into public.gym_member_deletions (gym_id, badge_id) values (old.gym_id, old.badge_id);
    end if;
    return null;
end
$$;
create trigger gym_members_remember_badge_change after update on public.gym_members
    for each row execute function private.remember_badge_change();

revoke all on all functions in schema private from public, anon;
grant execute on function private.claim_kiosk(text, text, jsonb, text, text, text, interval, integer, integer, integer) to anon;
grant execute on function private.kiosk_credential_check(uuid, text) to anon;

-- ---------------------------------------------------------------------------------------
-- Privileges and policies of the new tables
-- ---------------------------------------------------------------------------------------

grant select, insert, update, delete on public.kiosk_credentials, public.provisioning_attempts,
    public.kiosk_commands, public.kiosk_events, public.gym_member_deletions
    to authenticated, service_role;
grant usage, select on all sequences in schema public to authenticated, service_role;
revoke all on public.kiosk_credentials, public.provisioning_attempts, public.kiosk_commands,
    public.kiosk_events, public.gym_member_deletions from anon;
-- Nobody reads a credential's hash through the API, not even an admin.
revoke select on public.kiosk_credentials from authenticated;
grant select (id, kiosk_id, gym_id, created_at, expires_at, revoked_at, last_used_at)
    on public.kiosk_credentials to authenticated;

alter table public.kiosk_credentials enable row level security;
alter table public.provisioning_attempts enable row level security;
alter table public.kiosk_commands enable row level security;
alter table public.kiosk_events enable row level security;
alter table public.gym_member_deletions enable row level security;

-- Credentials: managers see and revoke their kiosks' credentials; issuing is the claim's job.
create policy kiosk_credentials_select on public.kiosk_credentials for select to authenticated
    using ((select private.is_super_admin()) or gym_id = any ((select private.my_managed_gym_ids())::uuid[]));
create policy kiosk_credentials_revoke on public.kiosk_credentials for update to authenticated
    using ((select private.is_super_admin()) or gym_id = any ((select private.my_managed_gym_ids())::uuid[]))
    with check ((select private.is_super_admin()) or gym_id = any ((select private.my_managed_gym_ids())::uuid[]));

create policy provisioning_attempts_select on public.provisioning_attempts for select to authenticated
    using ((select private.is_super_admin()) or gym_id = any ((select private.my_managed_gym_ids())::uuid[]));

create policy kiosk_commands_select on public.kiosk_commands for select to authenticated
    using (
        (select private.is_super_admin())
        or gym_id = any ((select private.my_managed_gym_ids())::uuid[])
        or kiosk_id = (select private.kiosk_id())
    );
create policy kiosk_commands_insert on public.kiosk_commands for insert to authenticated
    with check ((select private.is_super_admin()) or gym_id = any ((select private.my_managed_gym_ids())::uuid[]));
create policy kiosk_commands_update on public.kiosk_commands for update to authenticated
    using ((select private.is_super_admin()) or gym_id = any ((select private.my_managed_gym_ids())::uuid[]))
    with check ((select private.is_super_admin()) or gym_id = any ((select private.my_managed_gym_ids())::uuid[]));

create policy kiosk_events_select on public.kiosk_events for select to authenticated
    using (
        (select private.is_super_admin())
        or gym_id = any ((select private.my_gym_ids())::uuid[])
        or kiosk_id = (select private.kiosk_id())
    );
create policy kiosk_events_insert on public.kiosk_events for insert to authenticated
    with check (kiosk_id = (select private.kiosk_id()) and gym_id = (select private.kiosk_gym_id()));

create policy gym_member_deletions_select on public.gym_member_deletions for select to authenticated
    using (
        (select private.is_super_admin())
        or gym_id = any ((select private.my_gym_ids())::uuid[])
        or gym_id = (select private.kiosk_gym_id())
    );
