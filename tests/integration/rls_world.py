"""A small, exact world for the RLS role matrix.

Franchise A owns gyms A1 and A2, franchise B owns gym B1. Every gym has the same rows
(PER_GYM), so the rows a role may see are PER_GYM times the gyms it may see. Every gym also
has a *spare* member and a *spare* session (no profile, no summary...) so inserts of
one-per-parent rows have somewhere to go.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg

from cloud_api.db.database import SET_REQUEST_CONTEXT, request_context

GYMS = ("A1", "A2", "B1")
FRANCHISE_OF = {"A1": "A", "A2": "A", "B1": "B"}

# Rows per gym, per gym-scoped table.
PER_GYM = {
    "kiosks": 1,
    "kiosk_heartbeats": 1,
    "gym_members": 3,  # 2 + the spare
    "member_fitness_profile": 2,
    "member_preferences": 2,
    "member_analytics": 2,
    "realtime_sessions": 3,  # 2 + the spare
    "conversation_turns": 4,
    "conversation_summaries": 2,
    "manager_alerts": 1,
    "audit_log": 1,
    "member_import_mappings": 1,
    "member_imports": 1,
    "notification_recipients": 1,
    "notification_deliveries": 1,
    "cost_daily": 1,
}

ROLES = ("super_admin", "owner_A", "owner_B", "manager_A1", "staff_A1", "kiosk_A1", "anon")


def uid(*parts: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, "rls-world:" + ":".join(parts))


@dataclass
class World:
    admin_url: str
    api_url: str
    ids: dict[str, uuid.UUID] = field(default_factory=dict)

    def claims(self, role: str) -> dict[str, Any] | None:
        if role == "anon":
            return None
        if role == "kiosk_A1":
            return {
                "sub": str(uid("kiosk", "A1")),
                "role": "authenticated",
                "jarvis_role": "kiosk",
                "cid": str(uid("credential", "A1")),
            }
        claims = {"sub": str(uid("user", role)), "role": "authenticated", "aud": "authenticated"}
        # Super admins act only with a second factor (aal2); the others signed in either way.
        claims["aal"] = "aal2" if role == "super_admin" else "aal1"
        return claims

    def connect_as(self, conn: psycopg.Connection, role: str) -> None:
        """Within the current transaction, become `role` exactly as the API does."""
        conn.execute(SET_REQUEST_CONTEXT, request_context(self.claims(role)))


def build(admin_url: str, api_url: str) -> World:
    world = World(admin_url, api_url)
    with psycopg.connect(admin_url) as conn, conn.transaction():
        ins = conn.execute
        for f in ("A", "B"):
            ins(
                "insert into franchises (id, slug, name) values (%s, %s, %s)",
                (uid("franchise", f), f"franchise-{f.lower()}", f"Franchise {f}"),
            )
        for g in GYMS:
            ins(
                "insert into gyms (id, franchise_id, slug, name) values (%s, %s, %s, %s)",
                (uid("gym", g), uid("franchise", FRANCHISE_OF[g]), f"gym-{g.lower()}", f"Gym {g}"),
            )
        accounts = {
            "super_admin": ("super_admin", None, None),
            "owner_A": ("franchise_owner", "A", None),
            "owner_B": ("franchise_owner", "B", None),
            "manager_A1": ("gym_manager", None, "A1"),
            "staff_A1": ("gym_staff", None, "A1"),
            "manager_B1": ("gym_manager", None, "B1"),
        }
        for name, (role, franchise, gym) in accounts.items():
            user_id = uid("user", name)
            ins("insert into auth.users (id, email) values (%s, %s)", (user_id, f"{name}@t.test"))
            ins(
                "insert into users (id, email, role, franchise_id, gym_id) values (%s, %s, %s, %s, %s)",
                (
                    user_id,
                    f"{name}@t.test",
                    role,
                    franchise and uid("franchise", franchise),
                    gym and uid("gym", gym),
                ),
            )
        # Spare auth accounts for insert attempts into public.users.
        for g in GYMS:
            ins(
                "insert into auth.users (id, email) values (%s, %s)",
                (uid("spare-user", g), f"spare-{g}@t.test"),
            )
        for g in GYMS:
            gym, kiosk = uid("gym", g), uid("kiosk", g)
            ins(
                "insert into kiosks (id, gym_id, slug, name, status) values (%s, %s, %s, %s, 'online')",
                (kiosk, gym, f"kiosk-{g.lower()}", f"Kiosk {g}"),
            )
            ins(
                "insert into kiosk_credentials (id, kiosk_id, gym_id, secret_hash) "
                "values (%s, %s, %s, %s)",
                (uid("credential", g), kiosk, gym, uid("secret", g).hex * 2),
            )
            ins(
                "insert into kiosk_heartbeats (kiosk_id, gym_id, status) values (%s, %s, 'online')",
                (kiosk, gym),
            )
            for m in ("1", "2", "spare"):
                member = uid("member", g, m)
                ins(
                    "insert into gym_members (id, gym_id, badge_id, first_name) values (%s, %s, %s, %s)",
                    (member, gym, member.hex[:8].upper(), f"M{m}"),
                )
                session = uid("session", g, m)
                ins(
                    # 'active': a closed session would queue its own summary (pipeline trigger).
                    "insert into realtime_sessions (id, gym_id, kiosk_id, member_id, started_at, "
                    "status) values (%s, %s, %s, %s, now(), 'active')",
                    (session, gym, kiosk, member),
                )
                if m == "spare":
                    continue
                ins(
                    "insert into member_fitness_profile (member_id, gym_id) values (%s, %s)",
                    (member, gym),
                )
                ins(
                    "insert into member_preferences (member_id, gym_id) values (%s, %s)",
                    (member, gym),
                )
                ins(
                    "insert into member_analytics (member_id, gym_id) values (%s, %s)",
                    (member, gym),
                )
                for t in (0, 1):
                    ins(
                        "insert into conversation_turns (session_id, gym_id, turn_index, role, content) "
                        "values (%s, %s, %s, 'user', 'bonjour')",
                        (session, gym, t),
                    )
                ins(
                    "insert into conversation_summaries (session_id, gym_id, member_id) values (%s, %s, %s)",
                    (session, gym, member),
                )
            ins(
                "insert into manager_alerts (id, gym_id, alert_type, title) values (%s, %s, 'other', 'x')",
                (uid("alert", g), gym),
            )
            ins(
                "insert into audit_log (actor_type, gym_id, action) values ('system', %s, 'test.seeded')",
                (gym,),
            )
            ins(
                "insert into notification_recipients (id, gym_id, channel, email) "
                "values (%s, %s, 'email', 'alerts@t.test')",
                (uid("recipient", g), gym),
            )
            ins(
                "insert into notification_deliveries (gym_id, recipient_id, alert_id, kind, channel) "
                "values (%s, %s, %s, 'alert', 'email')",
                (gym, uid("recipient", g), uid("alert", g)),
            )
            ins("insert into cost_daily (gym_id, day) values (%s, current_date)", (gym,))
            ins(
                "insert into insights_reports (gym_id, report_type, period_start, period_end, title) "
                "values (%s, 'weekly', now() - interval '7 days', now(), 'gym report')",
                (gym,),
            )
            ins(
                "insert into member_import_mappings (gym_id, columns) values (%s, %s)",
                (gym, json.dumps({"first_name": "Prénom"})),
            )
            ins(
                "insert into member_imports (gym_id, filename, dry_run, status) "
                "values (%s, 'members.csv', true, 'valid')",
                (gym,),
            )
        for f in ("A", "B"):
            ins(
                "insert into insights_reports (franchise_id, report_type, period_start, period_end, title) "
                "values (%s, 'weekly', now() - interval '7 days', now(), 'franchise report')",
                (uid("franchise", f),),
            )
    return world


def insert_statement(table: str, gym: str, role: str) -> tuple[str, tuple[Any, ...]]:
    """A valid new row for `table` filed under `gym` (A1 = own scope for A roles)."""
    g, f = uid("gym", gym), uid("franchise", FRANCHISE_OF[gym])
    if table == "notification_recipients":
        return (
            "insert into notification_recipients (gym_id, channel, email) values (%s, 'email', 'x@t.test')",
            (g,),
        )
    if table == "notification_deliveries":
        return (
            "insert into notification_deliveries (gym_id, recipient_id, kind, digest_day, channel) "
            "values (%s, %s, 'digest', current_date, 'email')",
            (g, uid("recipient", gym)),
        )
    if table == "cost_daily":
        return "insert into cost_daily (gym_id, day) values (%s, current_date - 1)", (g,)
    kiosk, spare_member, spare_session = (
        uid("kiosk", gym),
        uid("member", gym, "spare"),
        uid("session", gym, "spare"),
    )
    new = uuid.uuid4()
    match table:
        case "franchises":
            return "insert into franchises (slug, name) values (%s, 'New')", (f"new-{new.hex[:8]}",)
        case "gyms":
            return (
                "insert into gyms (franchise_id, slug, name) values (%s, %s, 'New')",
                (f, f"new-{new.hex[:8]}"),
            )
        case "users":
            return (
                "insert into users (id, email, role, gym_id) values (%s, %s, 'gym_staff', %s)",
                (uid("spare-user", gym), f"spare-{gym}@t.test", g),
            )
        case "kiosks":
            return (
                "insert into kiosks (gym_id, slug, name) values (%s, %s, 'New')",
                (g, f"new-{new.hex[:8]}"),
            )
        case "kiosk_heartbeats":
            return (
                "insert into kiosk_heartbeats (kiosk_id, gym_id, status) values (%s, %s, 'online')",
                (kiosk, g),
            )
        case "gym_members":
            return (
                "insert into gym_members (gym_id, badge_id, first_name) values (%s, 'ABCDEF01', 'New')",
                (g,),
            )
        case "member_fitness_profile" | "member_preferences" | "member_analytics":
            return f"insert into {table} (member_id, gym_id) values (%s, %s)", (spare_member, g)
        case "realtime_sessions":
            return (
                "insert into realtime_sessions (id, gym_id, kiosk_id, member_id, started_at) "
                "values (%s, %s, %s, %s, now())",
                (new, g, kiosk, spare_member),
            )
        case "conversation_turns":
            return (
                "insert into conversation_turns (session_id, gym_id, turn_index, role) "
                "values (%s, %s, 0, 'user')",
                (spare_session, g),
            )
        case "conversation_summaries":
            return (
                "insert into conversation_summaries (session_id, gym_id) values (%s, %s)",
                (spare_session, g),
            )
        case "manager_alerts":
            return (
                "insert into manager_alerts (gym_id, alert_type, title) values (%s, 'other', 'New')",
                (g,),
            )
        case "insights_reports":
            return (
                "insert into insights_reports (gym_id, report_type, period_start, period_end, title) "
                "values (%s, 'daily', now() - interval '1 day', now(), 'New')",
                (g,),
            )
        case "member_import_mappings":
            # One mapping per gym, and every gym has one: saving is an upsert (as the import
            # does), which checks the insert policy on the proposed row first.
            return (
                "insert into member_import_mappings (gym_id, columns) values (%s, '{}') "
                "on conflict (gym_id) do update set columns = excluded.columns",
                (g,),
            )
        case "member_imports":
            return (
                "insert into member_imports (gym_id, filename, dry_run, status) "
                "values (%s, 'new.csv', false, 'imported')",
                (g,),
            )
        case "audit_log":
            actor_type = "kiosk" if role == "kiosk_A1" else "user"
            actor = uid("kiosk", "A1") if role == "kiosk_A1" else uid("user", role)
            return (
                "insert into audit_log (actor_type, actor_id, gym_id, action, details) "
                "values (%s, %s, %s, 'test.insert', %s)",
                (actor_type, actor, g, json.dumps({})),
            )
    raise AssertionError(f"no insert for {table}")
