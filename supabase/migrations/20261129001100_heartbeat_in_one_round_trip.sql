-- A heartbeat costs about what a trivial request costs (issue 8, item 7).
--
-- * private.rate_limit_charge: a request's rate-limit charge that refuses by raising
--   SQLSTATE JR429 (detail: {"hits": n, "reset_s": s}). In the message that opens a request's
--   transaction, the error stops the rest of the message: a refused request does no work,
--   and its charge's own transaction rolls back, so the refusal is not counted.
-- * private.kiosk_heartbeat: the whole heartbeat as one call, so that the API sends BEGIN,
--   the claims, the call and COMMIT in one message (one round trip). Measured against the
--   row-level-security path it replaces (a CTE whose insert, kiosk and command reads each
--   evaluated the policies' helpers: private.kiosk_id() four times, is_super_admin() and
--   my_gym_ids() twice), it resolves the calling kiosk once, from its valid credential
--   (private.kiosk_id()), and writes only that kiosk's own heartbeat. A kiosk whose
--   credential is revoked gets no row. The heartbeat's trigger still updates the kiosk.

create function private.rate_limit_charge(
    p_bucket text, p_caller text, p_limit integer, p_window_s integer
) returns table (hits integer, reset_s integer)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    v_count record;
begin
    select * into v_count from private.rate_limit_take(p_bucket, p_caller, p_limit, p_window_s, 1);
    if not v_count.allowed then
        raise exception 'rate limit of % exceeded', p_bucket
            using errcode = 'JR429',
                  detail = json_build_object('hits', v_count.hits, 'reset_s', v_count.reset_s)::text;
    end if;
    return query select v_count.hits, v_count.reset_s;
end
$$;

revoke all on function private.rate_limit_charge(text, text, integer, integer) from public;
grant execute on function private.rate_limit_charge(text, text, integer, integer) to jarvis_api;

create function private.kiosk_heartbeat(p_heartbeat jsonb, p_ip text)
returns table (voice text, language text, openai_model text, commands json,
               server_time timestamptz)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    v_kiosk public.kiosks;
    v_health jsonb := coalesce(p_heartbeat -> 'health', '{}'::jsonb);
begin
    select k.* into v_kiosk from public.kiosks k where k.id = private.kiosk_id();
    if not found then
        return;  -- not a kiosk, or its credential is no longer valid
    end if;
    insert into public.kiosk_heartbeats (kiosk_id, gym_id, status, software_version, ip,
        cpu_percent, cpu_temp_c, memory_percent, disk_percent, mic_ok, reader_ok, network_ok,
        outbox_depth, last_error, health)
    values (v_kiosk.id, v_kiosk.gym_id, coalesce(p_heartbeat ->> 'status', 'online'),
        p_heartbeat ->> 'software_version', p_ip,
        (v_health ->> 'cpu_percent')::real, (v_health ->> 'cpu_temp_c')::real,
        (v_health ->> 'memory_percent')::real, (v_health ->> 'disk_percent')::real,
        (v_health ->> 'mic_ok')::boolean, (v_health ->> 'reader_ok')::boolean,
        (v_health ->> 'network_ok')::boolean,
        coalesce((p_heartbeat ->> 'outbox_depth')::integer, 0),
        p_heartbeat ->> 'last_error', v_health);
    return query select v_kiosk.voice_model, v_kiosk.language, v_kiosk.openai_model,
        coalesce((select json_agg(json_build_object('kind', c.kind, 'reason', c.reason)
                                  order by c.created_at)
                  from public.kiosk_commands c
                  where c.kiosk_id = v_kiosk.id and c.completed_at is null), '[]'::json),
        now();
end
$$;

revoke all on function private.kiosk_heartbeat(jsonb, text) from public;
grant execute on function private.kiosk_heartbeat(jsonb, text) to authenticated;
