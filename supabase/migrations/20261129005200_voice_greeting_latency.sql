-- Issue 9: how long a member waited for JARVIS's first word.
--
-- realtime_sessions.greeting_ms   the badge tap -> the greeting's first sample played by the
--     kiosk's speaker (null when there was no greeting, or for records stored before this)
alter table public.realtime_sessions
    add column greeting_ms integer check (greeting_ms >= 0);
