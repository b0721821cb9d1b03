"""`jarvis-cloud db seed --demo`: a coherent demo a gym manager would recognise.

A franchise (Atlas Fitness) with three gyms and one independent gym, kiosks with recent
heartbeats, ~200 members with fitness profiles and preferences in French and English, six
weeks of voice sessions with their transcripts, and an audit trail. Nothing analytic is
written here: the seed then runs the pipeline's own jobs (cloud_api/seed/derive.py), which
analyse every session and derive the summaries, member analytics, churn risk, alerts, cost
roll-ups and weekly reports from the conversations. Content is deterministic (fixed random
seed); dates are relative to now so the demo looks alive. Seeding is skipped when the demo
franchise already exists.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from cloud_api.db.embedded import WORKER_ROLE, with_params
from cloud_api.passwords import hash_password
from cloud_api.seed import content
from cloud_api.seed.derive import derive_demo
from cloud_api.seed.tools import seed_classes, seed_knowledge
from contract.pricing import TokenUsage, session_cost

DEMO_PASSWORD = "jarvis-demo"  # noqa: S105 - printed for the demo accounts on purpose
DEMO_FRANCHISE_SLUG = "atlas-fitness"
HISTORY_DAYS = 42
MODEL = "gpt-realtime-mini"


@dataclass(frozen=True)
class GymPlan:
    slug: str
    name: str
    city: str
    franchised: bool
    members: int
    english_share: float
    kiosks: tuple[str, ...]
    small: bool = False


GYMS = (
    GymPlan(
        "atlas-bordeaux-centre",
        "Atlas Bordeaux Centre",
        "Bordeaux",
        True,
        60,
        0.25,
        ("Entrée principale", "Zone cardio"),
    ),
    GymPlan("atlas-merignac", "Atlas Mérignac", "Mérignac", True, 50, 0.15, ("Accueil",)),
    GymPlan("atlas-pessac", "Atlas Pessac", "Pessac", True, 45, 0.15, ("Accueil",)),
    GymPlan("le-studio-dax", "Le Studio Dax", "Dax", False, 45, 0.1, ("Entrée",), small=True),
)

# (email, full name, role, gym slug or None)
ACCOUNTS = (
    ("admin@jarvis.demo", "Platform Admin", "super_admin", None),
    ("owner@atlas.demo", "Claire Atlas", "franchise_owner", None),
    ("manager.bordeaux@atlas.demo", "Marc Lopez", "gym_manager", "atlas-bordeaux-centre"),
    ("staff.bordeaux@atlas.demo", "Sofia Alves", "gym_staff", "atlas-bordeaux-centre"),
    ("manager.merignac@atlas.demo", "Julien Faure", "gym_manager", "atlas-merignac"),
    ("manager@lestudio.demo", "Anaïs Darrigrand", "gym_manager", "le-studio-dax"),
)


@dataclass
class DemoSummary:
    already_present: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    logins: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if self.already_present:
            return "demo data already present: nothing seeded"
        return "seeded demo: " + ", ".join(f"{n} {what}" for what, n in self.counts.items())


class _Ids:
    """Deterministic UUIDs from the demo's random stream."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def new(self) -> uuid.UUID:
        return uuid.UUID(int=self._rng.getrandbits(128), version=4)


def seed_demo(
    conninfo: str,
    *,
    worker_url: str | None = None,
    now: datetime | None = None,
    seed: int = 7,
) -> DemoSummary:
    """Seed the demo's gyms, members, sessions and turns, then derive everything else with
    the pipeline's jobs (as `jarvis_worker`; `worker_url` defaults to the same server)."""
    now = now or datetime.now(UTC)
    summary = DemoSummary(logins=[email for email, *_ in ACCOUNTS])
    with psycopg.connect(conninfo) as conn, conn.transaction():
        if conn.execute(
            "select 1 from franchises where slug = %s", (DEMO_FRANCHISE_SLUG,)
        ).fetchone():
            summary.already_present = True
            return summary
        builder = _DemoBuilder(conn, random.Random(seed), now)
        summary.counts = builder.build()
    derived = derive_demo(
        conninfo, worker_url or with_params(conninfo, user=WORKER_ROLE, password="")
    )
    summary.counts.update(derived)
    with psycopg.connect(conninfo) as conn, conn.transaction():
        # The history is derived already: its queued analyses would find nothing to do, and
        # its alerts predate the recipients (only new alerts are sent).
        conn.execute(
            "delete from procrastinate.procrastinate_jobs where status = 'todo' "
            "and task_name in ('analyze_session', 'deliver_alert')"
        )
        summary.counts["notification_recipients"] = _recipients(conn)
    return summary


def _recipients(conn: psycopg.Connection) -> int:
    """Who the demo's alerts reach: Bordeaux's manager at once, the owner in a daily digest
    (added after the history was derived, so only new alerts are sent)."""
    cur = conn.execute(
        "insert into notification_recipients (gym_id, channel, user_id, language, mode, min_priority) "
        "select u.gym_id, 'email', u.id, 'fr', 'immediate', 'low' from users u "
        "where u.email = 'manager.bordeaux@atlas.demo' "
        "union all "
        "select g.id, 'email', u.id, 'fr', 'daily_digest', 'medium' from users u "
        "join gyms g on g.franchise_id = u.franchise_id where u.email = 'owner@atlas.demo'"
    )
    return cur.rowcount


class _DemoBuilder:
    def __init__(self, conn: psycopg.Connection, rng: random.Random, now: datetime) -> None:
        self.conn = conn
        self.rng = rng
        self.ids = _Ids(rng)
        self.now = now
        self.today = now.date()
        self.counts: dict[str, int] = {}

    # -- orchestration ------------------------------------------------------------------

    def build(self) -> dict[str, int]:
        franchise_id = self.ids.new()
        self._insert(
            "franchises",
            [
                {
                    "id": franchise_id,
                    "slug": DEMO_FRANCHISE_SLUG,
                    "name": "Atlas Fitness",
                    "city": "Bordeaux",
                    "status": "active",
                    "subscription_plan": "pro",
                }
            ],
        )
        gyms: dict[str, uuid.UUID] = {}
        for plan in GYMS:
            gyms[plan.slug] = self.ids.new()
            hours = content.OPENING_HOURS_SMALL if plan.small else content.OPENING_HOURS_CITY
            self._insert(
                "gyms",
                [
                    {
                        "id": gyms[plan.slug],
                        "franchise_id": franchise_id if plan.franchised else None,
                        "slug": plan.slug,
                        "name": plan.name,
                        "city": plan.city,
                        "address": f"{self.rng.randint(1, 120)} rue du Sport, {plan.city}",
                        "opening_hours": json.dumps(hours),
                    }
                ],
            )
        self._accounts(franchise_id, gyms)
        kiosks = {plan.slug: self._kiosks(plan, gyms[plan.slug]) for plan in GYMS}
        for plan in GYMS:
            self._gym_history(plan, gyms[plan.slug], kiosks[plan.slug])
        for gym_id in gyms.values():
            # What JARVIS's tools read: the gym's knowledge (both languages) and its classes.
            for language in ("fr", "en"):
                self.counts["knowledge_documents"] = self.counts.get(
                    "knowledge_documents", 0
                ) + seed_knowledge(self.conn, gym_id, language)
            self.counts["classes"] = self.counts.get("classes", 0) + seed_classes(self.conn, gym_id)
        return self.counts

    # -- helpers ----------------------------------------------------------------------

    def _insert(self, table: str, rows: list[dict[str, Any]], *, upsert_on: str = "") -> None:
        """Insert rows; with `upsert_on`, rows already there (made by a trigger) are updated."""
        if not rows:
            return
        columns = list(rows[0])
        statement = sql.SQL("insert into {} ({}) values ({})").format(
            sql.Identifier(table),
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        )
        if upsert_on:
            statement += sql.SQL(" on conflict ({}) do update set {}").format(
                sql.Identifier(upsert_on),
                sql.SQL(", ").join(
                    sql.SQL("{} = excluded.{}").format(sql.Identifier(c), sql.Identifier(c))
                    for c in columns
                    if c != upsert_on
                ),
            )
        with self.conn.cursor() as cur:
            cur.executemany(statement, [tuple(row[c] for c in columns) for row in rows])
        self.counts[table] = self.counts.get(table, 0) + len(rows)

    def _ago(self, days: float = 0, minutes: float = 0) -> datetime:
        return self.now - timedelta(days=days, minutes=minutes)

    # -- accounts, kiosks ---------------------------------------------------------------

    def _accounts(
        self, franchise_id: uuid.UUID, gyms: dict[str, uuid.UUID]
    ) -> dict[str, uuid.UUID]:
        password_hash = hash_password(DEMO_PASSWORD)
        by_key: dict[str, uuid.UUID] = {}
        for email, full_name, role, gym_slug in ACCOUNTS:
            user_id = self.ids.new()
            self.conn.execute(
                "insert into auth.users (id, email, encrypted_password, email_confirmed_at, "
                "raw_app_meta_data) values (%s, %s, %s, now(), %s)",
                (user_id, email, password_hash, json.dumps({"provider": "email"})),
            )
            self._insert(
                "users",
                [
                    {
                        "id": user_id,
                        "email": email,
                        "full_name": full_name,
                        "role": role,
                        "franchise_id": franchise_id if role == "franchise_owner" else None,
                        "gym_id": gyms[gym_slug] if gym_slug else None,
                    }
                ],
            )
            by_key[f"{role}:{gym_slug}"] = user_id
            self._audit(
                "system",
                None,
                gyms.get(gym_slug or ""),
                "user.created",
                "user",
                str(user_id),
                {"email": email, "role": role},
                days=HISTORY_DAYS + 5,
            )
        return by_key

    def _kiosks(self, plan: GymPlan, gym_id: uuid.UUID) -> list[uuid.UUID]:
        ids = []
        for index, location in enumerate(plan.kiosks, start=1):
            kiosk_id = self.ids.new()
            offline = plan.slug == "atlas-pessac"  # one kiosk has gone quiet: see the alerts
            self._insert(
                "kiosks",
                [
                    {
                        "id": kiosk_id,
                        "gym_id": gym_id,
                        "slug": f"{plan.slug}-{index}",
                        "name": f"JARVIS {location}",
                        "status": "provisioning",
                        "device_id": f"rpi-{self.rng.getrandbits(48):012x}",
                        "hardware_info": json.dumps(
                            {
                                "model": "Raspberry Pi 5 Model B",
                                "memory_mb": 8192,
                                "disk_gb": 64,
                                "mic": "ReSpeaker USB Mic Array",
                                "reader": "ACR122U",
                            }
                        ),
                        "software_version": "0.1.0",
                        "language": "fr",
                        "voice_model": "alloy",
                        "location_in_gym": location,
                        "provisioned_at": self._ago(days=HISTORY_DAYS + 2),
                    }
                ],
            )
            self._audit(
                "user",
                None,
                gym_id,
                "kiosk.provisioned",
                "kiosk",
                str(kiosk_id),
                {"device": "rpi"},
                days=HISTORY_DAYS + 2,
            )
            last = 45 if offline else 0
            beats = []
            for step in range(24):
                minutes = last + (23 - step) * 5
                beats.append(
                    {
                        "kiosk_id": kiosk_id,
                        "gym_id": gym_id,
                        "received_at": self._ago(minutes=minutes),
                        "status": "online",
                        "software_version": "0.1.0",
                        "ip": f"10.{self.rng.randint(0, 9)}.0.{10 + index}",
                        "cpu_percent": round(self.rng.uniform(3, 25), 1),
                        "cpu_temp_c": round(self.rng.uniform(41, 58), 1),
                        "memory_percent": round(self.rng.uniform(20, 40), 1),
                        "disk_percent": round(self.rng.uniform(12, 30), 1),
                        "mic_ok": True,
                        "reader_ok": True,
                        "network_ok": True,
                        "outbox_depth": 0,
                    }
                )
            self._insert("kiosk_heartbeats", beats)
            if offline:
                self.conn.execute("update kiosks set status = 'offline' where id = %s", (kiosk_id,))
            ids.append(kiosk_id)
        return ids

    def _audit(
        self,
        actor_type: str,
        actor_id: uuid.UUID | None,
        gym_id: uuid.UUID | None,
        action: str,
        target_type: str,
        target_id: str,
        details: dict[str, Any],
        days: float = 0,
    ) -> None:
        self._insert(
            "audit_log",
            [
                {
                    "occurred_at": self._ago(days=days),
                    "actor_type": actor_type,
                    "actor_id": actor_id,
                    "gym_id": gym_id,
                    "action": action,
                    "target_type": target_type,
                    "target_id": target_id,
                    "details": json.dumps(details),
                }
            ],
        )

    # -- members and their history ------------------------------------------------------

    def _gym_history(self, plan: GymPlan, gym_id: uuid.UUID, kiosks: list[uuid.UUID]) -> None:
        badges: set[str] = set()
        for _ in range(plan.members):
            lang = "en" if self.rng.random() < plan.english_share else "fr"
            member_id = self.ids.new()
            badge = f"{self.rng.getrandbits(32):08X}"
            while badge in badges:
                badge = f"{self.rng.getrandbits(32):08X}"
            badges.add(badge)
            first = self.rng.choice(content.FIRST_NAMES[lang])
            last = self.rng.choice(content.LAST_NAMES[lang])
            # A few members are drifting away (quiet, unhappy, membership ending soon): the
            # churn rules flag them, and their managers get an alert.
            at_risk = self.rng.random() < 0.06
            expires = self.today + timedelta(
                days=self.rng.randint(5, 25) if at_risk else self.rng.randint(-20, 365)
            )
            self._insert(
                "gym_members",
                [
                    {
                        "id": member_id,
                        "gym_id": gym_id,
                        "badge_id": badge,
                        "first_name": first,
                        "last_name": last,
                        "email": f"{first}.{last}@example.com".lower().replace(" ", ""),
                        "phone": f"+33 6 {self.rng.randint(10, 99)} {self.rng.randint(10, 99)} "
                        f"{self.rng.randint(10, 99)} {self.rng.randint(10, 99)}",
                        "membership_type": self.rng.choice(content.MEMBERSHIPS),
                        "is_active": self.rng.random() > 0.04,
                        "member_since": self.today - timedelta(days=self.rng.randint(30, 900)),
                        "membership_expires_on": expires,
                    }
                ],
            )
            goals = self.rng.sample(content.GOALS, k=self.rng.randint(1, 2))
            height = self.rng.randint(155, 195)
            weight = Decimal(self.rng.randint(52, 105))
            self._insert(
                "member_fitness_profile",
                [
                    {
                        "member_id": member_id,
                        "gym_id": gym_id,
                        "height_cm": height,
                        "current_weight_kg": weight,
                        # Goals not reached yet: reaching one is a milestone the pipeline sees.
                        "target_weight_kg": weight - 5
                        if "weight_loss" in goals
                        else weight + 4
                        if "muscle_gain" in goals
                        else None,
                        "fitness_level": self.rng.choice(["beginner", "intermediate", "advanced"]),
                        "primary_goals": goals,
                        "workout_frequency_per_week": self.rng.randint(1, 5),
                    }
                ],
            )
            self._insert(
                "member_preferences",
                [
                    {
                        "member_id": member_id,
                        "gym_id": gym_id,
                        "language": lang,
                        "communication_style": self.rng.choice(content.STYLES),
                        "voice_preference": self.rng.choice(["alloy", "verse", "shimmer"]),
                    }
                ],
            )
            self._member_sessions(gym_id, kiosks, member_id, lang, at_risk=at_risk)

    def _member_sessions(
        self,
        gym_id: uuid.UUID,
        kiosks: list[uuid.UUID],
        member_id: uuid.UUID,
        lang: str,
        *,
        at_risk: bool,
    ) -> None:
        talks = at_risk or self.rng.random() < 0.75
        count = 4 if at_risk else self.rng.randint(1, 9) if talks else 0
        # Some members fade away: their sessions all sit at the start of the history.
        fading = at_risk or self.rng.random() < 0.2
        days = sorted(
            (self.rng.uniform(20 if fading else 0.2, HISTORY_DAYS) for _ in range(count)),
            reverse=True,
        )
        for day in days:
            self._session(gym_id, kiosks, member_id, lang, day, unhappy=at_risk)
        if not days:  # a member who never talked to JARVIS still came to the gym
            self.conn.execute(
                "update gym_members set last_visit = %s where id = %s",
                (self._ago(days=self.rng.uniform(1, 60)), member_id),
            )

    def _session(
        self,
        gym_id: uuid.UUID,
        kiosks: list[uuid.UUID],
        member_id: uuid.UUID,
        lang: str,
        days_ago: float,
        *,
        unhappy: bool,
    ) -> float:
        session_id = self.ids.new()
        kiosk_id = self.rng.choice(kiosks)
        started = self._ago(days=days_ago)
        pool = content.EXCHANGES[lang]
        if unhappy:
            pool = [e for e in pool if e[2] < -0.4]
        exchanges = self.rng.sample(pool, k=self.rng.randint(1, min(3, len(pool))))
        duration = self.rng.uniform(25, 240)
        user_audio = int(duration * 0.4 * 10)
        assistant_audio = int(duration * 0.4 * 20)
        usage = TokenUsage(
            input_text_tokens=600 * len(exchanges),
            input_audio_tokens=user_audio * 2,
            input_cached_tokens=user_audio,
            output_text_tokens=40 * len(exchanges),
            output_audio_tokens=assistant_audio,
        )
        latencies = [self.rng.randint(420, 1100) for _ in exchanges]
        end_reason = self.rng.choices(
            ["goodbye", "idle_timeout", "new_badge", "max_duration"], weights=[70, 20, 7, 3]
        )[0]
        tool_calls = [
            {
                "name": {
                    "book_class": "book_class",
                    "report_issue": "report_equipment_issue",
                    "ask_progress": "get_member_progress",
                }[intent],
                "ok": True,
            }
            for _, intent, *_ in exchanges
            if intent in ("book_class", "report_issue", "ask_progress")
        ]
        self._insert(
            "realtime_sessions",
            [
                {
                    "id": session_id,
                    "gym_id": gym_id,
                    "kiosk_id": kiosk_id,
                    "member_id": member_id,
                    "started_at": started,
                    "ended_at": started + timedelta(seconds=duration),
                    "status": "closed",
                    "end_reason": end_reason,
                    "model": MODEL,
                    "voice": "alloy",
                    "language": lang,
                    **usage.model_dump(),
                    "cost_usd": session_cost(MODEL, usage),
                    "turn_count": 2 * len(exchanges),
                    "first_response_ms": latencies[0],
                    "avg_response_ms": sum(latencies) // len(latencies),
                    "p95_response_ms": max(latencies),
                    "avg_playback_ms": sum(latencies) // len(latencies) + 60,
                    "tool_calls": json.dumps(tool_calls),
                    "errors": "[]",
                }
            ],
        )
        turns = []
        for i, (_, _, _, said, answered) in enumerate(exchanges):
            at = started + timedelta(seconds=8 + i * 30)
            turns.append(
                {
                    "session_id": session_id,
                    "gym_id": gym_id,
                    "turn_index": 2 * i,
                    "role": "user",
                    "content": said,
                    "started_at": at,
                    "audio_ms": self.rng.randint(1200, 4000),
                }
            )
            turns.append(
                {
                    "session_id": session_id,
                    "gym_id": gym_id,
                    "turn_index": 2 * i + 1,
                    "role": "assistant",
                    "content": answered,
                    "started_at": at + timedelta(seconds=4),
                    "audio_ms": self.rng.randint(2000, 6000),
                }
            )
        self._insert("conversation_turns", turns)
        return duration
