-- Member import: the CSV a gym management system exports, mapped to members.
--
-- * `gym_members.external_id`: the member's id in the gym's own system, so the next import
--   updates the same person even when their badge changed. Unique per gym when present.
-- * `member_import_mappings`: the column mapping and badge rules a gym used last, remembered
--   for its next import.
-- * `member_imports`: the import log (who, when, which file, what happened, the first
--   problems by line number). Dry runs are logged too.
-- Both are read and written by the gym's team (staff included: staff edit members), under
-- the same policies as the members themselves.

alter table public.gym_members
    add column external_id text check (external_id is null or length(external_id) between 1 and 100);
create unique index gym_members_external_id_key on public.gym_members (gym_id, external_id)
    where external_id is not null;

create table public.member_import_mappings (
    gym_id uuid primary key references public.gyms (id) on delete cascade,
    -- {"first_name": "Prénom", "badge_id": "N° badge", ...}: our field → the file's header.
    columns jsonb not null check (jsonb_typeof(columns) = 'object'),
    -- contract.badge.BadgeRules as JSON: how the gym's system writes badge ids.
    badge_rules jsonb not null default '{}'::jsonb check (jsonb_typeof(badge_rules) = 'object'),
    delimiter text not null default ',' check (length(delimiter) = 1),
    updated_by uuid references public.users (id) on delete set null,
    updated_at timestamptz not null default now()
);

create table public.member_imports (
    id uuid primary key default gen_random_uuid(),
    gym_id uuid not null references public.gyms (id) on delete cascade,
    filename text not null check (length(filename) between 1 and 255),
    dry_run boolean not null,
    status text not null check (status in ('valid', 'invalid', 'imported', 'failed')),
    rows_total integer not null default 0 check (rows_total >= 0),
    rows_inserted integer not null default 0 check (rows_inserted >= 0),
    rows_updated integer not null default 0 check (rows_updated >= 0),
    rows_rejected integer not null default 0 check (rows_rejected >= 0),
    -- The first problems: [{"line": 12, "field": "badge_id", "problem": "..."}].
    problems jsonb not null default '[]'::jsonb check (jsonb_typeof(problems) = 'array'),
    imported_by uuid references public.users (id) on delete set null,
    started_at timestamptz not null default now(),
    finished_at timestamptz
);
create index member_imports_gym_id_idx on public.member_imports (gym_id, started_at desc);
create index member_imports_imported_by_idx on public.member_imports (imported_by);
create index member_import_mappings_updated_by_idx on public.member_import_mappings (updated_by);

alter table public.member_import_mappings enable row level security;
alter table public.member_imports enable row level security;
grant select, insert, update, delete on public.member_import_mappings, public.member_imports
    to authenticated, service_role;

do $$
declare
    t text;
begin
    foreach t in array array['member_import_mappings', 'member_imports'] loop
        execute format($p$
            create policy %1$s_select on public.%1$I for select to authenticated
                using ((select private.is_super_admin()) or gym_id = any ((select private.my_gym_ids())::uuid[]))
            $p$, t);
        execute format($p$
            create policy %1$s_insert on public.%1$I for insert to authenticated
                with check ((select private.is_super_admin()) or gym_id = any ((select private.my_gym_ids())::uuid[]))
            $p$, t);
        execute format($p$
            create policy %1$s_update on public.%1$I for update to authenticated
                using ((select private.is_super_admin()) or gym_id = any ((select private.my_gym_ids())::uuid[]))
                with check ((select private.is_super_admin()) or gym_id = any ((select private.my_gym_ids())::uuid[]))
            $p$, t);
    end loop;
end
$$;
-- The import log is history: only an operator removes it; a mapping its gym's managers may.
create policy member_imports_delete on public.member_imports for delete to authenticated
    using ((select private.is_super_admin()));
create policy member_import_mappings_delete on public.member_import_mappings for delete to authenticated
    using ((select private.is_super_admin()) or gym_id = any ((select private.my_managed_gym_ids())::uuid[]));

-- Saving a member's preferences marks the member changed for the kiosks' delta sync. Once per
-- statement rather than per row (an import saves 100,000 preferences in one statement), and
-- a member already stamped now() in this transaction (just imported) is not written again.
create function private.touch_members() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    update public.gym_members m set updated_at = now()
    from (select distinct member_id from changed) c
    where m.id = c.member_id and m.updated_at is distinct from now();
    return null;
end
$$;
revoke all on function private.touch_members() from public, anon;

drop trigger member_preferences_touch_member on public.member_preferences;
create trigger member_preferences_touch_members_inserted after insert on public.member_preferences
    referencing new table as changed
    for each statement execute function private.touch_members();
create trigger member_preferences_touch_members_updated after update on public.member_preferences
    referencing new table as changed
    for each statement execute function private.touch_members();
drop function private.touch_member();
