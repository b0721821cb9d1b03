-- Dashboard sign-in: super admins need MFA (aal2), and the embedded default's local issuer
-- gets what Supabase Auth provides in production: refresh sessions, TOTP factors and
-- invitations.
--
-- * A super admin's powers need a token whose `aal` claim is `aal2` (signed in with a second
--   factor): with a password-only token (`aal1`) they see only their own account row. This
--   is decided here, in the one helper every policy calls, so no route can forget it.
-- * Local sessions: a sign-in creates a session row holding the SHA-256 of a random refresh
--   token (rotated on every refresh); signing out revokes it. The access token names the
--   session (`session_id` claim, as Supabase's do).
-- * Local TOTP factors: the secret is stored encrypted by the cloud (AES-GCM under a key
--   derived from JARVIS_TOKEN_SECRET); Postgres never sees it in clear. The last accepted
--   time step is kept so a code cannot be replayed.
-- * Local invitations: an operator or manager invites someone by email; the invitation link
--   carries a random token (stored as SHA-256) that lets them choose a password once.
--
-- These tables live in `private` (not exposed, no grants): the API reaches them only through
-- the definer functions below. On Supabase the functions exist but are not called.

create or replace function private.is_super_admin() returns boolean
language sql stable security definer
set search_path = ''
as $$
    select coalesce(
        (select u.role = 'super_admin' from public.users u where u.id = auth.uid() and u.is_active),
        false)
    and coalesce(auth.jwt() ->> 'aal', '') = 'aal2'
$$;

-- ---------------------------------------------------------------------------------------
-- Local sessions (refresh tokens)
-- ---------------------------------------------------------------------------------------

create table private.local_sessions (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references auth.users (id) on delete cascade,
    refresh_hash text not null unique check (refresh_hash ~ '^[0-9a-f]{64}$'),
    -- The token this one replaced: still accepted for a few seconds, because a browser that
    -- sends two requests at once with an expired access token refreshes twice.
    previous_hash text,
    aal text not null default 'aal1' check (aal in ('aal1', 'aal2')),
    created_at timestamptz not null default now(),
    refreshed_at timestamptz not null default now(),
    expires_at timestamptz not null,
    revoked_at timestamptz
);
create index local_sessions_user_id_idx on private.local_sessions (user_id);

-- After the password was checked by the API (Argon2id lives in Python): a new session.
create function private.local_session_start(p_user uuid, p_refresh_hash text, p_ttl interval)
returns uuid
language sql volatile security definer
set search_path = ''
as $$
    insert into private.local_sessions (user_id, refresh_hash, expires_at)
    values (p_user, p_refresh_hash, now() + p_ttl)
    returning id
$$;

create index local_sessions_previous_hash_idx on private.local_sessions (previous_hash);

-- Rotate a refresh token: the old one stops working (`rotated`). The token just replaced is
-- still honoured for 10 s without rotating again (`rotated` false: keep the newer cookie).
-- Empty when the token is unknown, revoked, expired, or its user was deactivated.
create function private.local_session_refresh(p_old_hash text, p_new_hash text, p_ttl interval)
returns table (session_id uuid, user_id uuid, email text, aal text, rotated boolean)
language plpgsql volatile security definer
set search_path = ''
as $$
begin
    return query
    update private.local_sessions s
    set previous_hash = s.refresh_hash, refresh_hash = p_new_hash, refreshed_at = now(),
        expires_at = now() + p_ttl
    from auth.users u, public.users p
    where s.refresh_hash = p_old_hash and s.revoked_at is null and s.expires_at > now()
      and u.id = s.user_id and p.id = s.user_id and p.is_active
    returning s.id, s.user_id, u.email::text, s.aal, true;
    if not found then
        return query
        select s.id, s.user_id, u.email::text, s.aal, false
        from private.local_sessions s
        join auth.users u on u.id = s.user_id
        join public.users p on p.id = s.user_id
        where s.previous_hash = p_old_hash and s.refreshed_at > now() - interval '10 seconds'
          and s.revoked_at is null and s.expires_at > now() and p.is_active;
    end if;
end
$$;

create function private.local_session_end(p_refresh_hash text)
returns void
language sql volatile security definer
set search_path = ''
as $$
    update private.local_sessions set revoked_at = now()
    where (refresh_hash = p_refresh_hash or previous_hash = p_refresh_hash) and revoked_at is null
$$;

-- ---------------------------------------------------------------------------------------
-- Local TOTP factors (called with the signed-in user's aal1 token: auth.uid() decides)
-- ---------------------------------------------------------------------------------------

create table private.local_mfa_factors (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null unique references auth.users (id) on delete cascade,
    secret_sealed text not null,
    verified_at timestamptz,
    last_step bigint not null default 0,
    created_at timestamptz not null default now()
);

create function private.local_mfa_factor()
returns table (factor_id uuid, secret_sealed text, verified boolean, last_step bigint)
language sql stable security definer
set search_path = ''
as $$
    select f.id, f.secret_sealed, f.verified_at is not null, f.last_step
    from private.local_mfa_factors f
    where f.user_id = auth.uid()
$$;

-- A new, unverified factor for the caller; refused while a verified one exists (removing a
-- verified factor is an operator's job).
create function private.local_mfa_enroll(p_secret_sealed text)
returns uuid
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    v_id uuid;
begin
    if auth.uid() is null then
        raise exception 'sign in first' using errcode = '42501';
    end if;
    if exists (select 1 from private.local_mfa_factors f
               where f.user_id = auth.uid() and f.verified_at is not null) then
        raise exception 'a verified factor already exists' using errcode = '42501';
    end if;
    insert into private.local_mfa_factors (user_id, secret_sealed)
    values (auth.uid(), p_secret_sealed)
    on conflict (user_id) do update set secret_sealed = excluded.secret_sealed,
        created_at = now(), last_step = 0
    returning id into v_id;
    return v_id;
end
$$;

-- The API checked a code for time step p_step: accept it once (no replay), mark the factor
-- verified and the session aal2. False when the step was already used.
create function private.local_mfa_accept(p_factor uuid, p_step bigint, p_session uuid)
returns boolean
language plpgsql volatile security definer
set search_path = ''
as $$
begin
    update private.local_mfa_factors f
    set last_step = p_step, verified_at = coalesce(f.verified_at, now())
    where f.id = p_factor and f.user_id = auth.uid() and f.last_step < p_step;
    if not found then
        return false;
    end if;
    update public.users u set mfa_enabled = true where u.id = auth.uid() and not u.mfa_enabled;
    update private.local_sessions s set aal = 'aal2'
    where s.id = p_session and s.user_id = auth.uid();
    insert into public.audit_log (actor_type, actor_id, gym_id, franchise_id, action,
                                  target_type, target_id, details)
    select 'user', u.id, u.gym_id, u.franchise_id, 'user.mfa_verified', 'user', u.id::text,
           '{}'::jsonb
    from public.users u where u.id = auth.uid();
    return true;
end
$$;

-- ---------------------------------------------------------------------------------------
-- Local invitations
-- ---------------------------------------------------------------------------------------

create table private.local_invitations (
    token_hash text primary key check (token_hash ~ '^[0-9a-f]{64}$'),
    user_id uuid not null references auth.users (id) on delete cascade,
    invited_by uuid references auth.users (id) on delete set null,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    used_at timestamptz
);
create index local_invitations_user_id_idx on private.local_invitations (user_id);

-- The sign-in account for an invitation (no password yet). Only callers who may manage
-- people at all (super admins, owners, managers) get one; whether they may give it *this*
-- role in *this* gym is decided by RLS when the API then inserts the public.users row in
-- the same transaction (a refusal rolls both back).
create function private.local_invite(p_email text, p_token_hash text, p_ttl interval)
returns uuid
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    v_user uuid;
begin
    if not (private.is_super_admin() or cardinality(private.my_managed_gym_ids()) > 0) then
        raise exception 'only administrators, owners and managers invite people'
            using errcode = '42501';
    end if;
    if exists (select 1 from auth.users u where lower(u.email) = lower(p_email)) then
        raise exception 'an account with this email already exists' using errcode = '23505';
    end if;
    insert into auth.users (email, raw_app_meta_data)
    values (lower(p_email), '{"provider": "email"}'::jsonb)
    returning id into v_user;
    insert into private.local_invitations (token_hash, user_id, invited_by, expires_at)
    values (p_token_hash, v_user, auth.uid(), now() + p_ttl);
    return v_user;
end
$$;

-- Choose a password with an invitation (once, before it expires).
create function private.local_invitation_accept(p_token_hash text, p_password_hash text)
returns table (user_id uuid, email text)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    v_user uuid;
begin
    update private.local_invitations i set used_at = now()
    where i.token_hash = p_token_hash and i.used_at is null and i.expires_at > now()
    returning i.user_id into v_user;
    if v_user is null then
        return;
    end if;
    update auth.users u
    set encrypted_password = p_password_hash, email_confirmed_at = now(), updated_at = now()
    where u.id = v_user;
    insert into public.audit_log (actor_type, actor_id, gym_id, franchise_id, action,
                                  target_type, target_id, details)
    select 'user', p.id, p.gym_id, p.franchise_id, 'user.invitation_accepted', 'user',
           p.id::text, '{}'::jsonb
    from public.users p where p.id = v_user;
    return query select u.id, u.email::text from auth.users u where u.id = v_user;
end
$$;

-- Who an invitation is for (the set-password page shows it); empty when it cannot be used.
create function private.local_invitation_lookup(p_token_hash text)
returns table (email text, expires_at timestamptz)
language sql stable security definer
set search_path = ''
as $$
    select u.email::text, i.expires_at
    from private.local_invitations i join auth.users u on u.id = i.user_id
    where i.token_hash = p_token_hash and i.used_at is null and i.expires_at > now()
$$;

revoke all on function
    private.local_session_start(uuid, text, interval),
    private.local_session_refresh(text, text, interval),
    private.local_session_end(text),
    private.local_mfa_factor(),
    private.local_mfa_enroll(text),
    private.local_mfa_accept(uuid, bigint, uuid),
    private.local_invite(text, text, interval),
    private.local_invitation_accept(text, text),
    private.local_invitation_lookup(text)
from public;
grant execute on function
    private.local_session_start(uuid, text, interval),
    private.local_session_refresh(text, text, interval),
    private.local_session_end(text),
    private.local_invitation_accept(text, text),
    private.local_invitation_lookup(text)
to anon;
grant execute on function
    private.local_mfa_factor(),
    private.local_mfa_enroll(text),
    private.local_mfa_accept(uuid, bigint, uuid),
    private.local_invite(text, text, interval)
to authenticated;
