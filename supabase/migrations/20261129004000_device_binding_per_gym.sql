-- Device binding never writes another gym's row (issue 12, item 3).
--
-- A claim used to release the claimed device id from whatever kiosk held it, in any gym: any
-- holder of a code could unbind any kiosk of any tenant whose device id it knew or guessed.
-- Device ids are now unique per gym, and a claim only ever releases a kiosk of its own gym.

alter table public.kiosks drop constraint kiosks_device_id_key;
alter table public.kiosks add constraint kiosks_gym_device_key unique (gym_id, device_id);
create index kiosks_device_id_idx on public.kiosks (device_id);

create or replace function private.claim_kiosk(
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
