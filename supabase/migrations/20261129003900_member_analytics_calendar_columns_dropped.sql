-- The figures that move with the calendar are computed when read
-- (public.member_analytics_live, migration 20261129002600): their stored columns, no longer
-- written since then, go (with the engagement index of 20261129003100).
alter table public.member_analytics
    drop column days_since_last_visit,
    drop column engagement_score,
    drop column visit_frequency_per_week,
    drop column conversation_frequency;
