-- Rate limits that every API replica shares (issue 8): one counter per (bucket, caller).
--
-- The API charges a request's limit in the same network round trip that opens its
-- transaction (cloud_api/db/database.py), in a transaction of its own so that the counter's
-- row lock is held for microseconds, not for the request, and a request that fails later
-- still counts. Windows are anchored on a caller's first hit: `hits` counts the attempts
-- allowed in the window that ends at `window_end`; once it has passed, the next hit starts a
-- new window. A refused attempt is not counted, so `reset_s` (Retry-After) is
-- truthful: at that moment the caller is allowed again.
--
-- The table is UNLOGGED: counters write no WAL (a charge never waits for a disk flush), and
-- a database crash empties them — every caller starts a fresh window, which is harmless.
--
-- Only the API's own login role (`jarvis_api`, before it takes the caller's role) may run
-- the two functions; neither `anon` nor `authenticated` (nor PostgREST) can touch counters.
-- Callers are keys the API builds (`kiosk:<id>`, `user:<id>`, `ip:<address or /64>`):
-- limits are per caller, never global, so no one can exhaust someone else's.

create unlogged table private.rate_limits (
    bucket text not null check (length(bucket) between 1 and 64),
    caller text not null check (length(caller) between 1 and 200),
    window_end timestamptz not null,
    hits integer not null check (hits >= 0),
    primary key (bucket, caller)
) with (fillfactor = 70);  -- room for HOT updates: a charge rewrites its row in place
create index rate_limits_window_end_idx on private.rate_limits (window_end);

alter table private.rate_limits enable row level security;
-- No policy on purpose: only the definer functions below read or write it.
revoke all on private.rate_limits from public, anon, authenticated;

-- Charge `p_cost` hits to (bucket, caller) if that keeps it within `p_limit` hits per
-- `p_window_s` seconds. Answers whether it was allowed, the hits counted in the current
-- window (after this charge) and the seconds until that window ends. `p_cost` 0 only looks:
-- `allowed` then says whether one more hit would be.
create function private.rate_limit_take(
    p_bucket text, p_caller text, p_limit integer, p_window_s integer, p_cost integer
) returns table (allowed boolean, hits integer, reset_s integer)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    v_now timestamptz := now();
    v_row private.rate_limits;
begin
    if p_limit < 0 or p_window_s <= 0 or p_cost < 0 then
        raise exception 'rate_limit_take: limit and cost must be >= 0, window > 0'
            using errcode = '22023';
    end if;
    if p_cost > 0 and p_cost <= p_limit then
        insert into private.rate_limits as r (bucket, caller, window_end, hits)
        values (p_bucket, p_caller, v_now + make_interval(secs => p_window_s), p_cost)
        on conflict (bucket, caller) do update set
            window_end = case when r.window_end <= v_now
                              then excluded.window_end else r.window_end end,
            hits = case when r.window_end <= v_now then excluded.hits else r.hits + p_cost end
        where r.window_end <= v_now or r.hits + p_cost <= p_limit
        returning r.* into v_row;
        if found then
            return query select true, v_row.hits,
                greatest(1, ceil(extract(epoch from v_row.window_end - v_now)))::integer;
            return;
        end if;
    end if;
    -- Refused, or only looking: nothing is counted.
    select * into v_row from private.rate_limits r
    where r.bucket = p_bucket and r.caller = p_caller and r.window_end > v_now;
    if not found then
        return query select greatest(p_cost, 1) <= p_limit, 0, p_window_s;
        return;
    end if;
    return query select v_row.hits + greatest(p_cost, 1) <= p_limit, v_row.hits,
        greatest(1, ceil(extract(epoch from v_row.window_end - v_now)))::integer;
end
$$;

-- Forget windows that have ended; how many were removed. Each API process runs it every
-- JARVIS_RATE_LIMIT_SWEEP_S seconds; any number of them may run it at once.
create function private.rate_limit_sweep() returns integer
language sql volatile security definer
set search_path = ''
as $$
    with gone as (
        delete from private.rate_limits r where r.window_end <= now() returning 1
    )
    select count(*)::integer from gone
$$;

revoke all on function private.rate_limit_take(text, text, integer, integer, integer) from public;
revoke all on function private.rate_limit_sweep() from public;
-- The API's login role itself (not anon, not authenticated) charges limits: usage of the
-- schema gives it nothing else, every other private function is closed to public.
grant usage on schema private to jarvis_api;
grant execute on function private.rate_limit_take(text, text, integer, integer, integer)
    to jarvis_api;
grant execute on function private.rate_limit_sweep() to jarvis_api;
