-- Live dashboards: Postgres tells the cloud when an alert or a kiosk's status changes, and
-- the dashboard's pages read fast at a million members.
--
-- NOTIFY carries only ids (kind, row id, gym id), never content: every dashboard subscriber
-- re-reads the row under its own claims, so row-level security decides who learns what.

create function private.notify_alert_changed() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    perform pg_notify('jarvis_dashboard', json_build_object(
        'kind', 'alert', 'id', new.id, 'gym_id', new.gym_id)::text);
    return null;
end
$$;

create function private.notify_kiosk_changed() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    -- A routine heartbeat changes nothing a page shows as state: stay quiet.
    if tg_op = 'UPDATE'
       and new.status is not distinct from old.status
       and new.provisioned_at is not distinct from old.provisioned_at
       and new.software_version is not distinct from old.software_version then
        return null;
    end if;
    perform pg_notify('jarvis_dashboard', json_build_object(
        'kind', 'kiosk', 'id', new.id, 'gym_id', new.gym_id)::text);
    return null;
end
$$;
revoke all on function private.notify_alert_changed(), private.notify_kiosk_changed()
    from public, anon;

create trigger manager_alerts_notify_dashboard after insert or update on public.manager_alerts
    for each row execute function private.notify_alert_changed();
create trigger kiosks_notify_dashboard after insert or update on public.kiosks
    for each row execute function private.notify_kiosk_changed();

-- ---------------------------------------------------------------------------------------
-- Indexes for the dashboard's lists (keyset pagination over a gym's members and sessions)
-- ---------------------------------------------------------------------------------------

-- Members by engagement (churn already has member_analytics_gym_churn_idx).
create index member_analytics_gym_engagement_idx
    on public.member_analytics (gym_id, engagement_score desc nulls last, member_id);
-- Members by name within a gym, and the alerts list by creation.
create index gym_members_gym_name_idx on public.gym_members (gym_id, last_name, first_name, id);
create index manager_alerts_gym_created_idx on public.manager_alerts (gym_id, created_at desc, id);
