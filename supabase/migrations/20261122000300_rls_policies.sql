-- Row-level security: the only authorization source for data.
--
-- Who sees what:
--   super_admin       everything
--   franchise_owner   their franchise, its gyms and everything under them; manages their
--                     gyms' kiosks, managers and staff
--   gym_manager       their gym and everything under it; manages its kiosks and staff
--   gym_staff         reads their gym; edits members and alerts, but not kiosks, users or
--                     an alert's assignment
--   kiosk             its own row; reads its gym's members; writes its own heartbeats and
--                     sessions; nothing else
--   anon              nothing
--
-- Following Supabase's RLS performance guidance: the helpers are SECURITY DEFINER functions
-- in the non-exposed schema `private` with `search_path = ''`; policies call them wrapped in
-- `(select ...)` so each runs once per statement (an initPlan), not once per row; every policy
-- is `to authenticated`; every column a policy filters on is indexed (see the core schema).
-- Gym scopes are returned as arrays so that `gym_id = any(...)` can use the gym_id indexes.
--
-- A kiosk is an `authenticated` caller whose claims carry `"jarvis_role": "kiosk"` and whose
-- `sub` is the kiosk's id; those claims are only ever minted by the cloud API.

grant usage on schema private to authenticated;

create function private.my_role() returns public.user_role
language sql stable security definer
set search_path = ''
as $$
    select u.role from public.users u where u.id = auth.uid() and u.is_active
$$;

create function private.is_super_admin() returns boolean
language sql stable security definer
set search_path = ''
as $$
    select coalesce(
        (select u.role = 'super_admin' from public.users u where u.id = auth.uid() and u.is_active),
        false)
$$;

-- Gyms a dashboard user may read (empty for super admins, who have their own policies,
-- and for kiosks).
create function private.my_gym_ids() returns uuid[]
language sql stable security definer
set search_path = ''
as $$
    select coalesce((
        select case u.role
            when 'franchise_owner' then array(
                select g.id from public.gyms g where g.franchise_id = u.franchise_id)
            when 'gym_manager' then array[u.gym_id]
            when 'gym_staff' then array[u.gym_id]
        end
        from public.users u
        where u.id = auth.uid() and u.is_active
    ), '{}'::uuid[])
$$;

-- Gyms a dashboard user may manage (kiosks, team): owners their franchise's gyms,
-- managers their own gym, staff none.
create function private.my_managed_gym_ids() returns uuid[]
language sql stable security definer
set search_path = ''
as $$
    select coalesce((
        select case u.role
            when 'franchise_owner' then array(
                select g.id from public.gyms g where g.franchise_id = u.franchise_id)
            when 'gym_manager' then array[u.gym_id]
        end
        from public.users u
        where u.id = auth.uid() and u.is_active
    ), '{}'::uuid[])
$$;

-- The franchise a franchise owner owns (null for everyone else).
create function private.my_owned_franchise_id() returns uuid
language sql stable security definer
set search_path = ''
as $$
    select u.franchise_id from public.users u
    where u.id = auth.uid() and u.is_active and u.role = 'franchise_owner'
$$;

-- The franchise a dashboard user belongs to: owners their own, managers and staff their
-- gym's (so the dashboard can show the franchise's name).
create function private.my_franchise_id() returns uuid
language sql stable security definer
set search_path = ''
as $$
    select coalesce(u.franchise_id, g.franchise_id)
    from public.users u left join public.gyms g on g.id = u.gym_id
    where u.id = auth.uid() and u.is_active
$$;

create function private.kiosk_id() returns uuid
language sql stable security definer
set search_path = ''
as $$
    select k.id from public.kiosks k
    where (auth.jwt() ->> 'jarvis_role') = 'kiosk' and k.id = auth.uid()
$$;

create function private.kiosk_gym_id() returns uuid
language sql stable security definer
set search_path = ''
as $$
    select k.gym_id from public.kiosks k
    where (auth.jwt() ->> 'jarvis_role') = 'kiosk' and k.id = auth.uid()
$$;

revoke all on all functions in schema private from public, anon;
grant execute on function
    private.my_role(), private.is_super_admin(), private.my_gym_ids(),
    private.my_managed_gym_ids(), private.my_owned_franchise_id(), private.my_franchise_id(),
    private.kiosk_id(), private.kiosk_gym_id()
to authenticated;

-- ---------------------------------------------------------------------------------------
-- Table privileges: RLS filters rows, grants decide commands. anon gets nothing at all.
-- ---------------------------------------------------------------------------------------

grant usage on schema public to anon, authenticated, service_role;
revoke all on all tables in schema public from anon;
grant select, insert, update, delete on all tables in schema public to authenticated, service_role;
grant usage, select on all sequences in schema public to authenticated, service_role;

do $$
declare
    t text;
begin
    for t in select tablename from pg_tables where schemaname = 'public' loop
        execute format('alter table public.%I enable row level security', t);
    end loop;
end
$$;

-- ---------------------------------------------------------------------------------------
-- franchises
-- ---------------------------------------------------------------------------------------

create policy franchises_select on public.franchises for select to authenticated
    using ((select private.is_super_admin()) or id = (select private.my_franchise_id()));
create policy franchises_insert on public.franchises for insert to authenticated
    with check ((select private.is_super_admin()));
create policy franchises_update on public.franchises for update to authenticated
    using ((select private.is_super_admin()) or id = (select private.my_owned_franchise_id()))
    with check ((select private.is_super_admin()) or id = (select private.my_owned_franchise_id()));
create policy franchises_delete on public.franchises for delete to authenticated
    using ((select private.is_super_admin()));

-- ---------------------------------------------------------------------------------------
-- gyms
-- ---------------------------------------------------------------------------------------

create policy gyms_select on public.gyms for select to authenticated
    using (
        (select private.is_super_admin())
        or id = any ((select private.my_gym_ids())::uuid[])
        or id = (select private.kiosk_gym_id())
    );
create policy gyms_insert on public.gyms for insert to authenticated
    with check (
        (select private.is_super_admin())
        or franchise_id = (select private.my_owned_franchise_id())
    );
create policy gyms_update on public.gyms for update to authenticated
    using ((select private.is_super_admin()) or id = any ((select private.my_managed_gym_ids())::uuid[]))
    with check (
        (select private.is_super_admin())
        or (id = any ((select private.my_managed_gym_ids())::uuid[])
            and franchise_id is not distinct from
                coalesce((select private.my_owned_franchise_id()), (select private.my_franchise_id())))
    );
create policy gyms_delete on public.gyms for delete to authenticated
    using ((select private.is_super_admin()));

-- ---------------------------------------------------------------------------------------
-- users (dashboard accounts)
-- ---------------------------------------------------------------------------------------

create policy users_select on public.users for select to authenticated
    using (
        id = (select auth.uid())
        or (select private.is_super_admin())
        or gym_id = any ((select private.my_gym_ids())::uuid[])
        or franchise_id = (select private.my_owned_franchise_id())
    );
-- Owners manage their gyms' managers and staff; managers manage their gym's staff.
create policy users_insert on public.users for insert to authenticated
    with check (
        (select private.is_super_admin())
        or (gym_id = any ((select private.my_managed_gym_ids())::uuid[])
            and (role = 'gym_staff'
                 or (role = 'gym_manager' and (select private.my_role()) = 'franchise_owner')))
    );
create policy users_update on public.users for update to authenticated
    using (
        (select private.is_super_admin())
        or (gym_id = any ((select private.my_managed_gym_ids())::uuid[])
            and (role = 'gym_staff'
                 or (role = 'gym_manager' and (select private.my_role()) = 'franchise_owner')))
    )
    with check (
        (select private.is_super_admin())
        or (gym_id = any ((select private.my_managed_gym_ids())::uuid[])
            and (role = 'gym_staff'
                 or (role = 'gym_manager' and (select private.my_role()) = 'franchise_owner')))
    );
create policy users_delete on public.users for delete to authenticated
    using (
        (select private.is_super_admin())
        or (gym_id = any ((select private.my_managed_gym_ids())::uuid[])
            and (role = 'gym_staff'
                 or (role = 'gym_manager' and (select private.my_role()) = 'franchise_owner')))
    );

-- ---------------------------------------------------------------------------------------
-- kiosks and heartbeats
-- ---------------------------------------------------------------------------------------

create policy kiosks_select on public.kiosks for select to authenticated
    using (
        (select private.is_super_admin())
        or gym_id = any ((select private.my_gym_ids())::uuid[])
        or id = (select private.kiosk_id())
    );
create policy kiosks_insert on public.kiosks for insert to authenticated
    with check ((select private.is_super_admin()) or gym_id = any ((select private.my_managed_gym_ids())::uuid[]));
create policy kiosks_update on public.kiosks for update to authenticated
    using ((select private.is_super_admin()) or gym_id = any ((select private.my_managed_gym_ids())::uuid[]))
    with check ((select private.is_super_admin()) or gym_id = any ((select private.my_managed_gym_ids())::uuid[]));
create policy kiosks_delete on public.kiosks for delete to authenticated
    using ((select private.is_super_admin()) or gym_id = any ((select private.my_managed_gym_ids())::uuid[]));

create policy kiosk_heartbeats_select on public.kiosk_heartbeats for select to authenticated
    using (
        (select private.is_super_admin())
        or gym_id = any ((select private.my_gym_ids())::uuid[])
        or kiosk_id = (select private.kiosk_id())
    );
create policy kiosk_heartbeats_insert on public.kiosk_heartbeats for insert to authenticated
    with check (kiosk_id = (select private.kiosk_id()) and gym_id = (select private.kiosk_gym_id()));
create policy kiosk_heartbeats_delete on public.kiosk_heartbeats for delete to authenticated
    using ((select private.is_super_admin()));

-- A heartbeat updates its kiosk's row; the kiosk itself has no UPDATE right on kiosks.
create function private.apply_heartbeat() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    update public.kiosks k
    set last_heartbeat = new.received_at,
        last_seen_ip = coalesce(new.ip, k.last_seen_ip),
        status = new.status,
        software_version = coalesce(new.software_version, k.software_version)
    where k.id = new.kiosk_id
      and (k.last_heartbeat is null or k.last_heartbeat <= new.received_at);
    return null;
end
$$;
revoke all on function private.apply_heartbeat() from public, anon, authenticated;
create trigger kiosk_heartbeats_apply after insert on public.kiosk_heartbeats
    for each row execute function private.apply_heartbeat();

-- ---------------------------------------------------------------------------------------
-- members, fitness profiles, preferences: the gym's whole team, and the gym's kiosks (read)
-- ---------------------------------------------------------------------------------------

do $$
declare
    t text;
begin
    foreach t in array array['gym_members', 'member_fitness_profile', 'member_preferences'] loop
        execute format($p$
            create policy %1$s_select on public.%1$I for select to authenticated
                using (
                    (select private.is_super_admin())
                    or gym_id = any ((select private.my_gym_ids())::uuid[])
                    or gym_id = (select private.kiosk_gym_id())
                )$p$, t);
        execute format($p$
            create policy %1$s_insert on public.%1$I for insert to authenticated
                with check ((select private.is_super_admin()) or gym_id = any ((select private.my_gym_ids())::uuid[]))
            $p$, t);
        execute format($p$
            create policy %1$s_update on public.%1$I for update to authenticated
                using ((select private.is_super_admin()) or gym_id = any ((select private.my_gym_ids())::uuid[]))
                with check ((select private.is_super_admin()) or gym_id = any ((select private.my_gym_ids())::uuid[]))
            $p$, t);
        execute format($p$
            create policy %1$s_delete on public.%1$I for delete to authenticated
                using ((select private.is_super_admin()) or gym_id = any ((select private.my_gym_ids())::uuid[]))
            $p$, t);
    end loop;
end
$$;

-- ---------------------------------------------------------------------------------------
-- sessions and turns: written by the kiosk that ran them, read by the gym's team
-- ---------------------------------------------------------------------------------------

create policy realtime_sessions_select on public.realtime_sessions for select to authenticated
    using (
        (select private.is_super_admin())
        or gym_id = any ((select private.my_gym_ids())::uuid[])
        or kiosk_id = (select private.kiosk_id())
    );
create policy realtime_sessions_insert on public.realtime_sessions for insert to authenticated
    with check (
        kiosk_id = (select private.kiosk_id())
        and gym_id = (select private.kiosk_gym_id())
        and (member_id is null or exists (
            select 1 from public.gym_members m
            where m.id = member_id and m.gym_id = (select private.kiosk_gym_id())))
    );
create policy realtime_sessions_update on public.realtime_sessions for update to authenticated
    using ((select private.is_super_admin()) or kiosk_id = (select private.kiosk_id()))
    with check (
        (select private.is_super_admin())
        or (kiosk_id = (select private.kiosk_id())
            and gym_id = (select private.kiosk_gym_id())
            and (member_id is null or exists (
                select 1 from public.gym_members m
                where m.id = member_id and m.gym_id = (select private.kiosk_gym_id()))))
    );
create policy realtime_sessions_delete on public.realtime_sessions for delete to authenticated
    using ((select private.is_super_admin()));

create policy conversation_turns_select on public.conversation_turns for select to authenticated
    using (
        (select private.is_super_admin())
        or gym_id = any ((select private.my_gym_ids())::uuid[])
        or session_id in (
            select s.id from public.realtime_sessions s where s.kiosk_id = (select private.kiosk_id()))
    );
create policy conversation_turns_insert on public.conversation_turns for insert to authenticated
    with check (
        gym_id = (select private.kiosk_gym_id())
        and session_id in (
            select s.id from public.realtime_sessions s where s.kiosk_id = (select private.kiosk_id()))
    );
create policy conversation_turns_delete on public.conversation_turns for delete to authenticated
    using ((select private.is_super_admin()));

-- ---------------------------------------------------------------------------------------
-- pipeline output: read by the gym's team, written by the platform
-- ---------------------------------------------------------------------------------------

do $$
declare
    t text;
begin
    foreach t in array array['conversation_summaries', 'member_analytics'] loop
        execute format($p$
            create policy %1$s_select on public.%1$I for select to authenticated
                using ((select private.is_super_admin()) or gym_id = any ((select private.my_gym_ids())::uuid[]))
            $p$, t);
        execute format($p$
            create policy %1$s_write on public.%1$I for all to authenticated
                using ((select private.is_super_admin()))
                with check ((select private.is_super_admin()))
            $p$, t);
    end loop;
end
$$;

-- ---------------------------------------------------------------------------------------
-- manager alerts
-- ---------------------------------------------------------------------------------------

create policy manager_alerts_select on public.manager_alerts for select to authenticated
    using ((select private.is_super_admin()) or gym_id = any ((select private.my_gym_ids())::uuid[]));
create policy manager_alerts_insert on public.manager_alerts for insert to authenticated
    with check ((select private.is_super_admin()) or gym_id = any ((select private.my_gym_ids())::uuid[]));
create policy manager_alerts_update on public.manager_alerts for update to authenticated
    using ((select private.is_super_admin()) or gym_id = any ((select private.my_gym_ids())::uuid[]))
    with check ((select private.is_super_admin()) or gym_id = any ((select private.my_gym_ids())::uuid[]));
create policy manager_alerts_delete on public.manager_alerts for delete to authenticated
    using ((select private.is_super_admin()) or gym_id = any ((select private.my_managed_gym_ids())::uuid[]));

-- Staff work alerts (status, notes) but do not reassign them. RLS cannot compare old and
-- new values, so a trigger guards the column; it only applies to API callers.
create function private.guard_alert_assignment() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if current_user = 'authenticated'
       and new.assigned_to is distinct from old.assigned_to
       and private.my_role() = 'gym_staff' then
        raise exception 'gym staff cannot change who an alert is assigned to'
            using errcode = '42501';
    end if;
    return new;
end
$$;
create trigger manager_alerts_guard_assignment before update on public.manager_alerts
    for each row execute function private.guard_alert_assignment();

-- ---------------------------------------------------------------------------------------
-- insights reports: gym reports to the gym's team, franchise reports to the owner
-- ---------------------------------------------------------------------------------------

create policy insights_reports_select on public.insights_reports for select to authenticated
    using (
        (select private.is_super_admin())
        or gym_id = any ((select private.my_gym_ids())::uuid[])
        or (gym_id is null and franchise_id = (select private.my_owned_franchise_id()))
    );
create policy insights_reports_write on public.insights_reports for all to authenticated
    using ((select private.is_super_admin()))
    with check ((select private.is_super_admin()));

-- ---------------------------------------------------------------------------------------
-- audit log: append-only; managers read their gym's, owners their franchise's
-- ---------------------------------------------------------------------------------------

create policy audit_log_select on public.audit_log for select to authenticated
    using (
        (select private.is_super_admin())
        or gym_id = any ((select private.my_managed_gym_ids())::uuid[])
        or franchise_id = (select private.my_owned_franchise_id())
    );
create policy audit_log_insert on public.audit_log for insert to authenticated
    with check (
        actor_id = (select auth.uid())
        and (
            (actor_type = 'kiosk' and gym_id = (select private.kiosk_gym_id()))
            or (actor_type = 'user' and (
                (select private.is_super_admin())
                or gym_id is null
                or gym_id = any ((select private.my_gym_ids())::uuid[])))
        )
    );

revoke update, delete on public.audit_log from authenticated;

-- Functions created above after the first revoke (trigger functions) are not callable either.
revoke all on all functions in schema private from public, anon;
