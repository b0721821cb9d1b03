-- Supabase-compatible auth shim.
--
-- On a real Supabase project every object below already exists, and this file changes
-- nothing: each statement is guarded. On a plain Postgres (the embedded default, CI) it
-- provides what the rest of the migrations and PostgREST-style requests rely on: the `auth`
-- and `extensions` schemas, a minimal `auth.users`, `auth.uid()`, `auth.role()`,
-- `auth.jwt()`, the roles `anon`, `authenticated`, `service_role`, and a NOINHERIT login
-- role for the API (`jarvis_api`) that can switch to anon/authenticated but never to a
-- role that bypasses row-level security.

create schema if not exists auth;
create schema if not exists extensions;

create extension if not exists vector with schema extensions;

do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'anon') then
        create role anon nologin noinherit;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'authenticated') then
        create role authenticated nologin noinherit;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'service_role') then
        create role service_role nologin noinherit bypassrls;
    end if;
    -- The API's own login role. NOINHERIT: connected as jarvis_api it holds no privilege at
    -- all until a transaction runs `set_config('role', ...)`. It is granted only anon and
    -- authenticated, never service_role or any BYPASSRLS role.
    if not exists (select 1 from pg_roles where rolname = 'jarvis_api') then
        create role jarvis_api login noinherit nobypassrls;
    end if;
end
$$;

grant anon, authenticated to jarvis_api;

grant usage on schema auth to anon, authenticated, service_role;
grant usage on schema extensions to anon, authenticated, service_role;

create table if not exists auth.users (
    id uuid primary key default gen_random_uuid(),
    aud varchar(255) default 'authenticated',
    role varchar(255) default 'authenticated',
    email varchar(255) unique,
    encrypted_password varchar(255),
    email_confirmed_at timestamptz,
    last_sign_in_at timestamptz,
    raw_app_meta_data jsonb default '{}'::jsonb,
    raw_user_meta_data jsonb default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);

-- auth.uid(), auth.role() and auth.jwt() exactly as Supabase defines them: they only read
-- the request settings. After a transaction ends those settings read '' rather than NULL,
-- hence nullif(...,'') before any cast. Created only when absent, so Supabase's own
-- definitions are never replaced.
do $$
begin
    if not exists (
        select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'auth' and p.proname = 'uid'
    ) then
        execute $fn$
            create function auth.uid() returns uuid
            language sql stable
            as $body$
                select coalesce(
                    nullif(current_setting('request.jwt.claim.sub', true), ''),
                    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
                )::uuid
            $body$
        $fn$;
    end if;
    if not exists (
        select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'auth' and p.proname = 'role'
    ) then
        execute $fn$
            create function auth.role() returns text
            language sql stable
            as $body$
                select coalesce(
                    nullif(current_setting('request.jwt.claim.role', true), ''),
                    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
                )::text
            $body$
        $fn$;
    end if;
    if not exists (
        select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'auth' and p.proname = 'jwt'
    ) then
        execute $fn$
            create function auth.jwt() returns jsonb
            language sql stable
            as $body$
                select coalesce(
                    nullif(current_setting('request.jwt.claim', true), ''),
                    nullif(current_setting('request.jwt.claims', true), '')
                )::jsonb
            $body$
        $fn$;
    end if;
end
$$;

grant execute on function auth.uid() to anon, authenticated, service_role;
grant execute on function auth.role() to anon, authenticated, service_role;
grant execute on function auth.jwt() to anon, authenticated, service_role;
