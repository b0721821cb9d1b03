-- Ids made on a kiosk reveal nothing across gyms (issue 12, item 8).
--
-- Session records, events and voice session starts are filed under an id the kiosk makes, so
-- that uploads are idempotent. Stored as is, those ids were unique across every gym: a kiosk
-- sending an id that exists in another gym got a different answer than for a fresh id
-- (an event "duplicate" and dropped, a session "belongs to another kiosk", a voice start 409),
-- which told it that the id exists elsewhere, and refused its own record.
--
-- A kiosk-made id is now stored as an id derived from (the kiosk's gym, the id it made): the
-- same kiosk-made id in two gyms is two different rows, and each gym's kiosks see only their
-- own. Within a gym nothing changes: the same id again is the same row (idempotency is exact),
-- and the derivation is one-way (SHA-256), so no gym can aim at another's stored ids. The
-- kiosk keeps using its own ids: the cloud derives the stored one in every statement that
-- takes a kiosk-made id (`private.kiosk_record_id`). Rows stored before this migration keep
-- their ids.

create function private.gym_record_id(p_gym uuid, p_made uuid) returns uuid
language sql immutable parallel safe
set search_path = ''
as $$
    -- A version-8 UUID (RFC 9562: custom) from the first 122 bits of the SHA-256.
    select (
        substr(h, 1, 12) || '8' || substr(h, 14, 3)
        || substr('89ab', get_byte(decode(substr(h, 17, 2), 'hex'), 0) % 4 + 1, 1)
        || substr(h, 18, 15)
    )::uuid
    from (
        select encode(
            sha256(convert_to('jarvis.kiosk-record/' || p_gym::text || '/' || p_made::text,
                              'UTF8')),
            'hex') as h
    ) digest
$$;

-- The stored id of a record the calling kiosk made with id `p_made` (null when the caller is
-- not a kiosk with a valid credential).
create function private.kiosk_record_id(p_made uuid) returns uuid
language sql stable
set search_path = ''
as $$
    select private.gym_record_id(private.kiosk_gym_id(), p_made)
$$;

revoke all on function private.gym_record_id(uuid, uuid) from public, anon;
revoke all on function private.kiosk_record_id(uuid) from public, anon;
grant execute on function private.gym_record_id(uuid, uuid) to authenticated;
grant execute on function private.kiosk_record_id(uuid) to authenticated;
