-- Issue 9: warm Realtime connections. A kiosk keeps one connection to OpenAI open and
-- configured before anyone taps, opened with a "standby" client secret that is bound to no
-- member; the member is bound on that connection at the tap (session.update) once the
-- cloud's voice start has checked the member's limits and the gym's budget, as for any
-- session. Each standby secret the cloud mints is counted here: a kiosk gets a limited
-- number per hour, and none once the gym's daily budget is spent.
--
-- voice_standbys   one row per standby secret minted: the kiosk, the model, when it
--                  expires. Kiosks write and read their own; the gym's team reads its
--                  kiosks'; nobody updates them; a super admin may delete them.

create table public.voice_standbys (
    id bigint generated always as identity primary key,
    gym_id uuid not null,
    kiosk_id uuid not null,
    model text not null,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    foreign key (kiosk_id, gym_id) references public.kiosks (id, gym_id) on delete cascade
);
create index voice_standbys_gym_id_idx on public.voice_standbys (gym_id, created_at desc);
create index voice_standbys_kiosk_idx on public.voice_standbys (kiosk_id, created_at desc);

grant select, insert, delete on public.voice_standbys to authenticated, service_role;
revoke all on public.voice_standbys from anon;
alter table public.voice_standbys enable row level security;

create policy voice_standbys_select on public.voice_standbys for select to authenticated
    using (
        (select private.is_super_admin())
        or gym_id = any ((select private.my_gym_ids())::uuid[])
        or kiosk_id = (select private.kiosk_id())
    );
create policy voice_standbys_insert on public.voice_standbys for insert to authenticated
    with check (kiosk_id = (select private.kiosk_id()) and gym_id = (select private.kiosk_gym_id()));
create policy voice_standbys_delete on public.voice_standbys for delete to authenticated
    using ((select private.is_super_admin()));
