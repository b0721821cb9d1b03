-- Sign-in for the embedded default's local issuer (on Supabase, Supabase Auth does this).
-- The API calls these as `anon`; they are not reachable any other way (schema `private`).

create function private.local_login_lookup(p_email text)
returns table (user_id uuid, password_hash text, is_active boolean, mfa_enabled boolean)
language sql stable security definer
set search_path = ''
as $$
    select u.id, u.encrypted_password, p.is_active, p.mfa_enabled
    from auth.users u join public.users p on p.id = u.id
    where lower(u.email) = lower(p_email)
$$;

create function private.local_login_record(p_user uuid, p_email text, p_ok boolean, p_ip text)
returns void
language plpgsql volatile security definer
set search_path = ''
as $$
begin
    if p_ok then
        update auth.users set last_sign_in_at = now() where id = p_user;
    end if;
    insert into public.audit_log (actor_type, actor_id, gym_id, franchise_id, action, target_type,
                                  target_id, source_ip, details)
    select case when p_ok then 'user' else 'anonymous' end, case when p_ok then p_user end,
           u.gym_id, u.franchise_id,
           case when p_ok then 'user.signed_in' else 'user.sign_in_failed' end,
           'user', p_user::text, p_ip, jsonb_build_object('email', p_email)
    from (select 1) one left join public.users u on u.id = p_user;
end
$$;

revoke all on function private.local_login_lookup(text) from public;
revoke all on function private.local_login_record(uuid, text, boolean, text) from public;
grant execute on function private.local_login_lookup(text) to anon;
grant execute on function private.local_login_record(uuid, text, boolean, text) to anon;
