-- A per-account limit on failed sign-ins that an attacker cannot turn against the account's
-- owner for long (issue 12, item 5).
--
-- Keyed on the email as typed (lower-cased, SHA-256: what attackers send is not kept in the
-- clear), whether or not an account has it: an unknown email is limited exactly like a known
-- one, so the limit says nothing about which emails exist. Failures count across addresses.
--
-- * `p_max` failed password checks within `p_window` (a window that starts at the first
--   counted failure) lock the account's password sign-in for 60 s (`p_lock_base_s`), doubling
--   with each lockout while the failures go on, never longer than `p_lock_max_s`; a whole
--   window after the last failure and lock forgets the doubling. Counting starts again
--   when the lock ends.
-- * While locked, an attempt is refused before its password is checked and is not counted:
--   refusals never extend a lockout, and Retry-After (the end of the lock) is exact.
-- * An address (IPv4, IPv6 /64) that signed in to the account successfully within the
--   trusted period is not held by the lock: the owner at their usual desk signs in while an
--   attacker elsewhere hammers. Its own failures still count.
-- * Only the API's login role may run these functions (like the rate limits).

create table private.sign_in_accounts (
    account_key text primary key check (account_key ~ '^[0-9a-f]{64}$'),
    failures integer not null default 0 check (failures >= 0),
    counting_since timestamptz not null default now(),
    last_failed_at timestamptz,
    locked_until timestamptz,
    lockouts integer not null default 0 check (lockouts >= 0)
);
create index sign_in_accounts_last_failed_idx on private.sign_in_accounts (last_failed_at);

create table private.sign_in_known_sources (
    account_key text not null check (account_key ~ '^[0-9a-f]{64}$'),
    source text not null check (length(source) between 1 and 200),
    last_success_at timestamptz not null,
    primary key (account_key, source)
);

alter table private.sign_in_accounts enable row level security;
alter table private.sign_in_known_sources enable row level security;
-- No policy on purpose: only the definer functions below read or write them.
revoke all on private.sign_in_accounts, private.sign_in_known_sources
    from public, anon, authenticated;

create function private.sign_in_key(p_email text) returns text
language sql immutable
set search_path = ''
as $$
    select encode(sha256(convert_to(lower(p_email), 'UTF8')), 'hex')
$$;

-- Seconds this source must wait before its password is checked for this email; 0: go ahead.
create function private.sign_in_gate(p_email text, p_source text, p_trusted interval)
returns integer
language plpgsql stable security definer
set search_path = ''
as $$
declare
    v_key text := private.sign_in_key(p_email);
    v_until timestamptz;
begin
    select a.locked_until into v_until from private.sign_in_accounts a
    where a.account_key = v_key;
    if v_until is null or v_until <= now() then
        return 0;
    end if;
    if exists (select 1 from private.sign_in_known_sources s
               where s.account_key = v_key and s.source = p_source
                 and s.last_success_at > now() - p_trusted) then
        return 0;
    end if;
    return greatest(1, ceil(extract(epoch from v_until - now())))::integer;
end
$$;

-- Record the outcome of a password check. A failure may start a lockout; answers the
-- seconds it lasts (0: none started).
create function private.sign_in_outcome(
    p_email text, p_source text, p_ok boolean, p_max integer, p_window interval,
    p_lock_base_s integer, p_lock_max_s integer
) returns integer
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    v_key text := private.sign_in_key(p_email);
    v_row private.sign_in_accounts;
    v_lock_s integer;
begin
    if p_max < 1 or p_lock_base_s < 1 or p_lock_max_s < p_lock_base_s then
        raise exception 'sign_in_outcome: bad limits' using errcode = '22023';
    end if;
    if p_ok then
        insert into private.sign_in_known_sources as s (account_key, source, last_success_at)
        values (v_key, p_source, now())
        on conflict (account_key, source) do update set last_success_at = excluded.last_success_at;
        -- The owner's own mistakes are forgiven; a lock in force stays for everyone else.
        update private.sign_in_accounts a set failures = 0, counting_since = now()
        where a.account_key = v_key and (a.locked_until is null or a.locked_until <= now());
        return 0;
    end if;

    insert into private.sign_in_accounts (account_key) values (v_key)
    on conflict (account_key) do nothing;
    select * into v_row from private.sign_in_accounts a where a.account_key = v_key for update;
    if coalesce(greatest(v_row.last_failed_at, v_row.locked_until), '-infinity')
       <= now() - p_window then
        v_row.lockouts := 0;  -- a window without failures or lock forgets the doubling
    end if;
    if v_row.counting_since <= now() - p_window then
        v_row.failures := 0;
        v_row.counting_since := now();
    end if;
    v_row.failures := v_row.failures + 1;
    v_row.last_failed_at := now();
    v_lock_s := 0;
    if v_row.failures >= p_max then
        v_lock_s := least(p_lock_max_s::bigint, p_lock_base_s::bigint * 2 ^ least(v_row.lockouts, 30))::integer;
        v_row.locked_until := greatest(v_row.locked_until, now() + make_interval(secs => v_lock_s));
        v_row.lockouts := v_row.lockouts + 1;
        v_row.failures := 0;
        v_row.counting_since := v_row.locked_until;
    end if;
    update private.sign_in_accounts a set
        failures = v_row.failures, counting_since = v_row.counting_since,
        last_failed_at = v_row.last_failed_at, locked_until = v_row.locked_until,
        lockouts = v_row.lockouts
    where a.account_key = v_key;
    return v_lock_s;
end
$$;

-- The rate limits' sweep also forgets accounts whose failures and lock are long over.
create or replace function private.rate_limit_sweep() returns integer
language sql volatile security definer
set search_path = ''
as $$
    with gone as (
        delete from private.rate_limits r where r.window_end <= now() returning 1
    ), quiet as (
        delete from private.sign_in_accounts a
        where a.last_failed_at < now() - interval '1 day'
          and (a.locked_until is null or a.locked_until < now())
        returning 1
    )
    select (select count(*) from gone)::integer + (select count(*) from quiet)::integer
$$;

revoke all on function private.sign_in_key(text) from public;
revoke all on function private.sign_in_gate(text, text, interval) from public;
revoke all on function private.sign_in_outcome(text, text, boolean, integer, interval, integer, integer)
    from public;
grant execute on function private.sign_in_gate(text, text, interval) to jarvis_api;
grant execute on function private.sign_in_outcome(text, text, boolean, integer, interval, integer, integer)
    to jarvis_api;
