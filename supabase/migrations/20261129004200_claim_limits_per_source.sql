-- Provisioning limits that a patient installer always gets through (issue 12, item 2).
--
-- Before: every failed claim counted against a global limit (100 per 15 min) that one source
-- reached alone, refused attempts were recorded as failures (so a lockout fed itself), and
-- Retry-After was the age of the oldest failure, not when the count would drop under the
-- limit. Now:
--
-- * Only attempts that were evaluated and failed count (code_invalid, code_expired,
--   code_used). An attempt refused by a limit is recorded ('rate_limited') but never counted:
--   a client that obeys Retry-After is not kept out by its own retries.
-- * Per source (an IPv4 address or an IPv6 /64, built by the API): past `p_max_per_source`
--   failures in the sliding window that source is refused, and only that source.
-- * Per code: failures on a code that is not claimable (used, expired, or a wrong code typed
--   again) are refused past `p_max_per_code`. A live code cannot fail, so guesses around it
--   count instead: a wrong code one typo away from a live code (one character changed, or two
--   neighbours swapped; the API sends those neighbours' hashes) is a near miss against that
--   code, and at `p_max_per_code` near misses the live code is retired (expired now, audited
--   `kiosk.code_burned` in its gym): its holder asks the gym for a new code. Retiring rather
--   than refusing with 429 keeps the answer the same for every guess: a 429 on one code among
--   404s on its neighbours would point at the live code, and refusals cost nothing.
-- * Globally, a circuit breaker, not a wall: past `p_max_global` failures in the window (from
--   everyone), a source that has itself failed in the window is refused; a source with a clean
--   record still gets its attempt, so an installer with the right code always claims. One
--   source cannot trip it (the settings keep `p_max_global` above `p_max_per_source`); a botnet
--   that trips it gets one guess per fresh address per window.
-- * Retry-After is truthful: the moment the counts that refuse this caller drop under their
--   limits (sliding windows; the k-th newest failure leaving the window). Refusals are not
--   counted, so for a per-source or per-code refusal nothing can move it later; under a
--   tripped global circuit, other sources' new failures can (the source's own failures ageing
--   out always ends it: at most one window).

alter table public.provisioning_attempts add column near_code_hash text;
create index provisioning_attempts_near_idx on public.provisioning_attempts
    (near_code_hash, attempted_at) where near_code_hash is not null;

-- Seconds until fewer than `p_limit` of the failures at `p_times` (ascending, all within the
-- window) remain in the window; 0 when already fewer.
create function private.claim_wait(p_times timestamptz[], p_limit integer, p_window interval)
returns integer
language sql stable
set search_path = ''
as $$
    select case
        when coalesce(cardinality(p_times), 0) < p_limit then 0
        else greatest(1, ceil(extract(epoch from
            p_times[cardinality(p_times) - p_limit + 1] + p_window - now())))::integer
    end
$$;
revoke all on function private.claim_wait(timestamptz[], integer, interval) from public;

drop function private.claim_kiosk(text, text, jsonb, text, text, text, interval, integer, integer, integer);

create function private.claim_kiosk(
    p_code_hash text,
    p_near_hashes text[],
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
    v_failed constant text[] := array['code_invalid', 'code_expired', 'code_used'];
    v_since timestamptz := now() - p_window;
    v_kiosk public.kiosks;
    v_near public.kiosks;
    v_source timestamptz[];
    v_code timestamptz[];
    v_everyone timestamptz[];
    v_wait integer;
    v_outcome text;
begin
    -- Serialise claims: the limits below must see every earlier attempt.
    perform pg_advisory_xact_lock(hashtext('jarvis.claim_kiosk'));

    select * into v_kiosk from public.kiosks k where k.provisioning_code_hash = p_code_hash;

    -- The failures that count, oldest first: this source's, this code's, everyone's.
    select coalesce(array_agg(a.attempted_at order by a.attempted_at), '{}') into v_source
    from public.provisioning_attempts a
    where a.source_ip = p_source_ip and a.attempted_at > v_since and a.outcome = any (v_failed);
    select coalesce(array_agg(a.attempted_at order by a.attempted_at), '{}') into v_code
    from public.provisioning_attempts a
    where a.code_hash = p_code_hash and a.attempted_at > v_since and a.outcome = any (v_failed);
    select coalesce(array_agg(a.attempted_at order by a.attempted_at), '{}') into v_everyone
    from public.provisioning_attempts a
    where a.attempted_at > v_since and a.outcome = any (v_failed);

    v_wait := greatest(
        private.claim_wait(v_source, p_max_per_source, p_window),
        private.claim_wait(v_code, p_max_per_code, p_window));
    if cardinality(v_everyone) >= p_max_global and cardinality(v_source) > 0 then
        -- The circuit is open: this source has failed, so it waits for the circuit to close
        -- or for its own failures to leave the window, whichever comes first.
        v_wait := greatest(v_wait, least(
            private.claim_wait(v_everyone, p_max_global, p_window),
            private.claim_wait(v_source, 1, p_window)));
    end if;

    if v_wait > 0 then
        insert into public.provisioning_attempts (source_ip, code_hash, kiosk_id, gym_id, outcome)
        values (p_source_ip, p_code_hash, v_kiosk.id, v_kiosk.gym_id, 'rate_limited');
        insert into public.audit_log (actor_type, gym_id, action, target_type, target_id, source_ip, details)
        values ('anonymous', v_kiosk.gym_id, 'kiosk.claim_rate_limited', 'kiosk', v_kiosk.id::text,
                p_source_ip, jsonb_build_object('device_id', p_device_id));
        return query select 'rate_limited'::text, v_wait,
            null::uuid, null::text, null::text, null::uuid, null::text, null::text,
            null::text, null::text, null::text;
        return;
    end if;

    if v_kiosk.id is null then
        v_outcome := 'code_invalid';
        -- A guess one typo away from a live code is a near miss against that code.
        select * into v_near from public.kiosks k
        where k.provisioning_code_hash = any (p_near_hashes)
          and k.provisioning_code_used_at is null and k.provisioning_code_expires_at > now()
        limit 1;
    elsif v_kiosk.provisioning_code_used_at is not null then
        v_outcome := 'code_used';
    elsif v_kiosk.provisioning_code_expires_at <= now() then
        v_outcome := 'code_expired';
    else
        v_outcome := 'claimed';
    end if;

    insert into public.provisioning_attempts
        (source_ip, code_hash, near_code_hash, kiosk_id, gym_id, outcome)
    values (p_source_ip, p_code_hash, v_near.provisioning_code_hash, v_kiosk.id, v_kiosk.gym_id,
            v_outcome);

    if v_outcome <> 'claimed' then
        insert into public.audit_log (actor_type, gym_id, action, target_type, target_id, source_ip, details)
        values ('anonymous', v_kiosk.gym_id, 'kiosk.claim_failed', 'kiosk', v_kiosk.id::text,
                p_source_ip, jsonb_build_object('reason', v_outcome, 'device_id', p_device_id));
        if v_near.id is not null and (
            select count(*) from public.provisioning_attempts a
            where a.near_code_hash = v_near.provisioning_code_hash and a.attempted_at > v_since
              and a.outcome = any (v_failed)
        ) >= p_max_per_code then
            update public.kiosks k set provisioning_code_expires_at = now() where k.id = v_near.id;
            insert into public.audit_log (actor_type, gym_id, action, target_type, target_id, source_ip, details)
            values ('anonymous', v_near.gym_id, 'kiosk.code_burned', 'kiosk', v_near.id::text,
                    p_source_ip, jsonb_build_object('near_misses', p_max_per_code));
        end if;
        return query select v_outcome, null::integer, null::uuid, null::text, null::text,
            null::uuid, null::text, null::text, null::text, null::text, null::text;
        return;
    end if;

    -- The device id is the box's own word, so it binds a kiosk of this gym only. Another
    -- kiosk of this gym holding it is released (the box was provisioned again as another
    -- kiosk here), in this gym's log. Other gyms' kiosks are never touched: the same id there
    -- (a box moved, or an id someone copied) is noted for the platform's operators alone
    -- (no gym on the row), so no gym learns or changes anything of another's.
    with released as (
        update public.kiosks k set device_id = null
        where k.gym_id = v_kiosk.gym_id and k.device_id = p_device_id and k.id <> v_kiosk.id
        returning k.id
    )
    insert into public.audit_log (actor_type, gym_id, action, target_type, target_id, source_ip, details)
    select 'anonymous', v_kiosk.gym_id, 'kiosk.device_released', 'kiosk', r.id::text, p_source_ip,
           jsonb_build_object('device_id', p_device_id, 'now_bound_to', v_kiosk.id)
    from released r;
    if exists (select 1 from public.kiosks k
               where k.device_id = p_device_id and k.gym_id <> v_kiosk.gym_id) then
        insert into public.audit_log (actor_type, action, target_type, target_id, source_ip, details)
        values ('anonymous', 'kiosk.device_id_elsewhere', 'kiosk', v_kiosk.id::text, p_source_ip,
                jsonb_build_object('device_id', p_device_id));
    end if;

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

revoke all on function private.claim_kiosk(text, text[], text, jsonb, text, text, text, interval, integer, integer, integer) from public;
grant execute on function private.claim_kiosk(text, text[], text, jsonb, text, text, text, interval, integer, integer, integer) to anon;
