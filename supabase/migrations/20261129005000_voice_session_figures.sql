-- Issue 9: what a voice session cost, kind by kind, and how each answer went.
--
-- realtime_sessions
--   input_cached_text_tokens, input_cached_audio_tokens   the cached input by kind, of
--       input_cached_tokens (cached input is a subset of input; each kind has its price);
--       what the server did not attribute is input_cached_tokens minus both
--   transcription_model, transcription_input_audio_tokens, transcription_input_text_tokens,
--   transcription_output_tokens, transcription_seconds   the member's words transcribed
--       (transcription_tokens stays their sum of tokens)
--   cost_breakdown   USD by kind, as numbers: text_input, cached_text_input, audio_input,
--       cached_audio_input, text_output, audio_output, transcription (cost_usd is their sum,
--       rounded to 1e-5); {} for records stored before this migration
--   reconnects, reconnect_count   every Realtime connection lost and retried: at, cause,
--       attempt, resumed_after_ms (null: never resumed), asked_again (the member was
--       waiting for an answer and it was asked for again)
--
-- conversation_turns (assistant turns that answer the member)
--   response_ms   end of the member's words -> first answer audio received
--   playback_ms   end of the member's words -> first answer sample played
--   interrupted   the audio was cut short (the member spoke over it, or the connection
--                 dropped); audio_ms is what the member heard
--   after_reconnect   the answer came on a new connection, outage included in the figures

alter table public.realtime_sessions
    add column input_cached_text_tokens integer not null default 0
        check (input_cached_text_tokens >= 0),
    add column input_cached_audio_tokens integer not null default 0
        check (input_cached_audio_tokens >= 0),
    add column transcription_model text,
    add column transcription_input_audio_tokens integer not null default 0
        check (transcription_input_audio_tokens >= 0),
    add column transcription_input_text_tokens integer not null default 0
        check (transcription_input_text_tokens >= 0),
    add column transcription_output_tokens integer not null default 0
        check (transcription_output_tokens >= 0),
    add column transcription_seconds numeric(10, 2) not null default 0
        check (transcription_seconds >= 0),
    add column cost_breakdown jsonb not null default '{}'::jsonb
        check (jsonb_typeof(cost_breakdown) = 'object'),
    add column reconnects jsonb not null default '[]'::jsonb
        check (jsonb_typeof(reconnects) = 'array'),
    add column reconnect_count integer not null default 0 check (reconnect_count >= 0),
    add constraint realtime_sessions_cached_kinds check (
        input_cached_text_tokens + input_cached_audio_tokens <= input_cached_tokens
    );

alter table public.conversation_turns
    add column response_ms integer check (response_ms >= 0),
    add column playback_ms integer check (playback_ms >= 0),
    add column interrupted boolean,
    add column after_reconnect boolean;
