-- Delivery of alerts: per-gym notification settings, and a log of every delivery.
--
-- * notification_recipients: who gets which alerts, how and when. An email recipient is a
--   dashboard user of the gym (`user_id`, their address) or a plain address; a webhook
--   recipient is a URL with its Standard Webhooks secret (`whsec_…`, never readable back
--   through the API). `alert_types` empty = every kind; `min_priority` filters;
--   `mode` immediate or daily_digest; `language` fr or en for the templates.
-- * notification_deliveries: one row per (recipient, alert) or (recipient, digest day), so
--   a delivery job run twice sends nothing twice that it knows it sent; the row's id is the
--   email's Message-ID and the webhook's `webhook-id`, so receivers can drop a rare repeat
--   (a worker killed between sending and recording).
-- * Managers and owners manage their gyms' recipients and read the log; staff read neither.

create table public.notification_recipients (
    id uuid primary key default gen_random_uuid(),
    gym_id uuid not null references public.gyms (id) on delete cascade,
    channel text not null check (channel in ('email', 'webhook')),
    user_id uuid references public.users (id) on delete cascade,
    email text check (email is null or email ~ '^[^@\s]+@[^@\s]+$'),
    webhook_url text check (webhook_url is null or webhook_url ~ '^https?://'),
    webhook_secret text check (webhook_secret is null or webhook_secret ~ '^whsec_[A-Za-z0-9+/=]{20,}$'),
    language text not null default 'fr' check (language in ('fr', 'en')),
    alert_types text[] not null default '{}',
    min_priority text not null default 'low' check (min_priority in ('low', 'medium', 'high', 'urgent')),
    mode text not null default 'immediate' check (mode in ('immediate', 'daily_digest')),
    is_active boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint notification_recipients_email check (
        channel <> 'email' or ((user_id is not null or email is not null) and webhook_url is null)),
    constraint notification_recipients_webhook check (
        channel <> 'webhook' or (webhook_url is not null and webhook_secret is not null
                                 and user_id is null and email is null))
);
create index notification_recipients_gym_id_idx on public.notification_recipients (gym_id);
create index notification_recipients_user_id_idx on public.notification_recipients (user_id);
create trigger notification_recipients_touch_updated_at before update on public.notification_recipients
    for each row execute function private.touch_updated_at();

create table public.notification_deliveries (
    id uuid primary key default gen_random_uuid(),
    gym_id uuid not null references public.gyms (id) on delete cascade,
    recipient_id uuid not null references public.notification_recipients (id) on delete cascade,
    alert_id uuid references public.manager_alerts (id) on delete cascade,
    kind text not null check (kind in ('alert', 'digest')),
    digest_day date,
    channel text not null check (channel in ('email', 'webhook')),
    status text not null default 'pending' check (status in ('pending', 'sent', 'failed')),
    attempts integer not null default 0,
    last_error text,
    created_at timestamptz not null default now(),
    sent_at timestamptz,
    constraint notification_deliveries_subject check (
        (kind = 'alert' and alert_id is not null) or (kind = 'digest' and digest_day is not null)),
    constraint notification_deliveries_alert_key unique (recipient_id, alert_id),
    constraint notification_deliveries_digest_key unique (recipient_id, kind, digest_day)
);
create index notification_deliveries_gym_id_idx on public.notification_deliveries (gym_id, created_at desc);
create index notification_deliveries_alert_id_idx on public.notification_deliveries (alert_id);

grant select, insert, update, delete on public.notification_recipients to authenticated, service_role;
grant select on public.notification_deliveries to authenticated, service_role;
revoke all on public.notification_recipients, public.notification_deliveries from anon;
-- A webhook's secret is written, never read back through the API.
revoke select on public.notification_recipients from authenticated;
grant select (id, gym_id, channel, user_id, email, webhook_url, language, alert_types,
              min_priority, mode, is_active, created_at, updated_at)
    on public.notification_recipients to authenticated;

alter table public.notification_recipients enable row level security;
alter table public.notification_deliveries enable row level security;

create policy notification_recipients_select on public.notification_recipients for select to authenticated
    using ((select private.is_super_admin()) or gym_id = any ((select private.my_managed_gym_ids())::uuid[]));
create policy notification_recipients_insert on public.notification_recipients for insert to authenticated
    with check ((select private.is_super_admin()) or gym_id = any ((select private.my_managed_gym_ids())::uuid[]));
create policy notification_recipients_update on public.notification_recipients for update to authenticated
    using ((select private.is_super_admin()) or gym_id = any ((select private.my_managed_gym_ids())::uuid[]))
    with check ((select private.is_super_admin()) or gym_id = any ((select private.my_managed_gym_ids())::uuid[]));
create policy notification_recipients_delete on public.notification_recipients for delete to authenticated
    using ((select private.is_super_admin()) or gym_id = any ((select private.my_managed_gym_ids())::uuid[]));
create policy notification_deliveries_select on public.notification_deliveries for select to authenticated
    using ((select private.is_super_admin()) or gym_id = any ((select private.my_managed_gym_ids())::uuid[]));

-- A recipient user must belong to the recipient's gym (RLS cannot compare two rows).
create function private.check_recipient_user() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    if new.user_id is not null and not exists (
        select 1 from public.users u
        left join public.gyms g on g.franchise_id = u.franchise_id
        where u.id = new.user_id
          and (u.gym_id = new.gym_id or g.id = new.gym_id or u.role = 'super_admin')
    ) then
        raise exception 'the recipient user does not belong to this gym' using errcode = '23514';
    end if;
    return new;
end
$$;
create trigger notification_recipients_check_user before insert or update on public.notification_recipients
    for each row execute function private.check_recipient_user();

-- ---------------------------------------------------------------------------------------
-- The worker's side
-- ---------------------------------------------------------------------------------------

-- The immediate deliveries of one alert still to make (created on first call), each with
-- what the message needs. Already sent deliveries are not returned.
create function private.worker_alert_deliveries(p_alert_id uuid)
returns table (delivery_id uuid, channel text, address text, webhook_secret text,
               language text, alert jsonb)
language plpgsql volatile security definer
set search_path = ''
as $$
begin
    insert into public.notification_deliveries (gym_id, recipient_id, alert_id, kind, channel)
    select a.gym_id, r.id, a.id, 'alert', r.channel
    from public.manager_alerts a
    join public.notification_recipients r on r.gym_id = a.gym_id
    where a.id = p_alert_id and r.is_active and r.mode = 'immediate'
      and (cardinality(r.alert_types) = 0 or a.alert_type = any (r.alert_types))
      and array_position(array['low', 'medium', 'high', 'urgent'], a.priority)
          >= array_position(array['low', 'medium', 'high', 'urgent'], r.min_priority)
    on conflict (recipient_id, alert_id) do nothing;

    return query
    select d.id, d.channel, coalesce(r.webhook_url, r.email, u.email), r.webhook_secret,
           r.language, private.alert_payload(a.id)
    from public.notification_deliveries d
    join public.notification_recipients r on r.id = d.recipient_id
    join public.manager_alerts a on a.id = d.alert_id
    left join public.users u on u.id = r.user_id
    where d.alert_id = p_alert_id and d.status <> 'sent' and r.is_active;
end
$$;

-- An alert as messages show it (no embedding, no internal ids beyond the alert's own).
create function private.alert_payload(p_alert_id uuid) returns jsonb
language sql stable security definer
set search_path = ''
as $$
    select jsonb_build_object(
        'id', a.id, 'type', a.alert_type, 'priority', a.priority, 'title', a.title,
        'description', a.description, 'recommended_actions', a.recommended_actions,
        'status', a.status, 'created_at', a.created_at,
        'gym', jsonb_build_object('id', g.id, 'slug', g.slug, 'name', g.name),
        'member', case when m.id is null then null
                       else jsonb_build_object('id', m.id, 'first_name', m.first_name) end,
        'kiosk', case when k.id is null then null
                      else jsonb_build_object('id', k.id, 'name', k.name) end)
    from public.manager_alerts a
    join public.gyms g on g.id = a.gym_id
    left join public.gym_members m on m.id = a.member_id
    left join public.kiosks k on k.id = a.kiosk_id
    where a.id = p_alert_id
$$;

-- Digest deliveries for the day before `p_day` (UTC), created on first call; each carries
-- the alerts of its recipient's kinds and priority raised that day.
create function private.worker_digest_deliveries(p_day date)
returns table (delivery_id uuid, channel text, address text, webhook_secret text,
               language text, gym jsonb, alerts jsonb)
language plpgsql volatile security definer
set search_path = ''
as $$
begin
    insert into public.notification_deliveries (gym_id, recipient_id, kind, digest_day, channel)
    select r.gym_id, r.id, 'digest', p_day, r.channel
    from public.notification_recipients r
    where r.is_active and r.mode = 'daily_digest'
      and exists (
          select 1 from public.manager_alerts a
          where a.gym_id = r.gym_id
            and a.created_at >= (p_day - 1)::timestamptz and a.created_at < p_day::timestamptz
            and (cardinality(r.alert_types) = 0 or a.alert_type = any (r.alert_types)))
    on conflict (recipient_id, kind, digest_day) do nothing;

    return query
    select d.id, d.channel, coalesce(r.webhook_url, r.email, u.email), r.webhook_secret,
           r.language, jsonb_build_object('id', g.id, 'slug', g.slug, 'name', g.name),
           coalesce((select jsonb_agg(private.alert_payload(a.id) order by a.created_at)
                     from public.manager_alerts a
                     where a.gym_id = r.gym_id
                       and a.created_at >= (p_day - 1)::timestamptz
                       and a.created_at < p_day::timestamptz
                       and (cardinality(r.alert_types) = 0 or a.alert_type = any (r.alert_types))
                       and array_position(array['low', 'medium', 'high', 'urgent'], a.priority)
                           >= array_position(array['low', 'medium', 'high', 'urgent'], r.min_priority)),
                    '[]'::jsonb)
    from public.notification_deliveries d
    join public.notification_recipients r on r.id = d.recipient_id
    join public.gyms g on g.id = r.gym_id
    left join public.users u on u.id = r.user_id
    where d.kind = 'digest' and d.digest_day = p_day and d.status <> 'sent' and r.is_active;
end
$$;

create function private.worker_delivery_done(p_delivery_id uuid, p_ok boolean, p_error text)
returns void
language sql volatile security definer
set search_path = ''
as $$
    update public.notification_deliveries
    set status = case when p_ok then 'sent' else 'failed' end,
        attempts = attempts + 1,
        last_error = case when p_ok then null else left(p_error, 2000) end,
        sent_at = case when p_ok then now() end
    where id = p_delivery_id and status <> 'sent'
$$;

revoke all on function private.check_recipient_user(), private.worker_alert_deliveries(uuid),
    private.alert_payload(uuid), private.worker_digest_deliveries(date),
    private.worker_delivery_done(uuid, boolean, text)
from public, anon, authenticated;
grant execute on function private.worker_alert_deliveries(uuid),
    private.worker_digest_deliveries(date), private.worker_delivery_done(uuid, boolean, text)
to jarvis_worker;
