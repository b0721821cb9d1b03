-- Session analysis: a stored session enqueues its analysis in the same transaction.
--
-- * private.on_session_stored (from 20261122000400) also defers the procrastinate job
--   `analyze_session` (queueing lock `analyze:<session>`: one waiting job per session).
-- * conversation_summaries records which analyzer produced the row (`analyzer`: `local-v1`
--   or `openai`), the models, the language, token usage and cost of the analysis, and how
--   many attempts it took.
-- * The worker (`jarvis_worker`) reads a session and stores its analysis only through the
--   definer functions below; it has no right on the tables themselves.

alter table public.conversation_summaries
    add column analyzer text check (analyzer in ('local-v1', 'openai')),
    add column analysis_model text,
    add column embedding_model text,
    add column language text check (language ~ '^[a-z]{2}$'),
    add column attempts integer not null default 0 check (attempts >= 0),
    add column input_tokens integer not null default 0 check (input_tokens >= 0),
    add column output_tokens integer not null default 0 check (output_tokens >= 0),
    add column embedding_tokens integer not null default 0 check (embedding_tokens >= 0),
    add column cost_usd numeric(12, 6) not null default 0 check (cost_usd >= 0),
    add constraint conversation_summaries_embedding_model
        check ((embedding is null) = (embedding_model is null));
create index conversation_summaries_processed_idx on public.conversation_summaries (gym_id, processed_at);

create or replace function private.on_session_stored() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    if new.status = 'closed' then
        insert into public.conversation_summaries (session_id, gym_id, member_id, kiosk_id, status)
        values (new.id, new.gym_id, new.member_id, new.kiosk_id, 'pending')
        on conflict (session_id) do nothing;
        perform private.defer_job('analyze_session', jsonb_build_object('session_id', new.id),
                                  'analysis', null, 'analyze:' || new.id::text);
    end if;
    if new.member_id is not null then
        update public.gym_members m
        set last_visit = greatest(coalesce(m.last_visit, new.started_at), new.started_at)
        where m.id = new.member_id;
    end if;
    return null;
end
$$;

-- What the analysis reads: the session, its member's first name and language, and the
-- transcript in order. No row when the session does not exist (erased meanwhile).
create function private.worker_session_for_analysis(p_session_id uuid)
returns table (session_id uuid, gym_id uuid, member_id uuid, kiosk_id uuid, status text,
               language text, first_name text, started_at timestamptz,
               duration_seconds numeric, tool_calls jsonb, turns jsonb)
language sql stable security definer
set search_path = ''
as $$
    select s.id, s.gym_id, s.member_id, s.kiosk_id, c.status,
           coalesce(p.language, s.language, k.language, 'fr'), m.first_name, s.started_at,
           s.duration_seconds, s.tool_calls,
           coalesce((select jsonb_agg(jsonb_build_object('role', t.role, 'content', t.content)
                                      order by t.turn_index)
                     from public.conversation_turns t where t.session_id = s.id), '[]'::jsonb)
    from public.realtime_sessions s
    join public.conversation_summaries c on c.session_id = s.id
    join public.kiosks k on k.id = s.kiosk_id
    left join public.gym_members m on m.id = s.member_id
    left join public.member_preferences p on p.member_id = s.member_id
    where s.id = p_session_id
$$;

-- Sessions whose analysis is not done: pending ones older than `p_older_than` (their job was
-- lost, e.g. the queue was emptied) and failed ones (a later retry may succeed).
create function private.worker_sessions_to_analyze(p_older_than interval, p_limit integer)
returns setof uuid
language sql stable security definer
set search_path = ''
as $$
    select c.session_id from public.conversation_summaries c
    where (c.status in ('pending', 'processing') and c.created_at < now() - p_older_than)
       or (c.status = 'failed' and c.attempts < 10)
    order by c.created_at
    limit p_limit
$$;

-- An attempt starts: counted, so a session that keeps failing is visible.
create function private.worker_analysis_started(p_session_id uuid) returns integer
language sql volatile security definer
set search_path = ''
as $$
    update public.conversation_summaries
    set status = case when status = 'done' then status else 'processing' end,
        attempts = attempts + 1
    where session_id = p_session_id
    returning attempts
$$;

create function private.worker_analysis_failed(p_session_id uuid, p_error text, p_final boolean)
returns void
language sql volatile security definer
set search_path = ''
as $$
    update public.conversation_summaries
    set status = case when p_final then 'failed' else 'pending' end,
        error = left(p_error, 2000)
    where session_id = p_session_id and status <> 'done'
$$;

revoke all on function private.worker_session_for_analysis(uuid),
    private.worker_sessions_to_analyze(interval, integer),
    private.worker_analysis_started(uuid),
    private.worker_analysis_failed(uuid, text, boolean)
from public, anon, authenticated;
grant execute on function private.worker_session_for_analysis(uuid),
    private.worker_sessions_to_analyze(interval, integer),
    private.worker_analysis_started(uuid),
    private.worker_analysis_failed(uuid, text, boolean)
to jarvis_worker;
