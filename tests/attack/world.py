"""Two tenants on one running cloud, each with every kind of row a request could reach.

Tenant A and tenant B are two franchises of one gym each. Each has a gym's staff, manager and
franchise owner, a provisioned kiosk, a member, a voice session (started through the API
against the project's Realtime simulator, with a tool call that booked a class and raised an
alert), its uploaded session record, an event, a class and a knowledge document. Every text a
tenant owns carries its marker (`SECRET-A-...`, `SECRET-B-...`): a response that contains the
other tenant's marker is a cross-tenant read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from contract import kiosk_api as api
from tests.cloud_server import CloudServer, ServerThread
from tests.conftest import PostgresServer
from tests.integration.cloud.voice_peers import ORG_KEY, simulator_app

USER_ROLES = ("gym_staff", "gym_manager", "franchise_owner")


@dataclass
class Tenant:
    """One tenant's identities and the real ids of everything it owns."""

    name: str  # "a" or "b"
    marker: str
    gym_slug: str
    franchise_slug: str
    gym_id: uuid.UUID = field(default_factory=uuid.uuid4)
    franchise_id: uuid.UUID = field(default_factory=uuid.uuid4)
    tokens: dict[str, str] = field(default_factory=dict)  # role → bearer token
    user_ids: dict[str, uuid.UUID] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    ids: dict[str, Any] = field(default_factory=dict)  # kind → a real id of that kind

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@dataclass
class World:
    cloud: CloudServer
    a: Tenant
    b: Tenant
    admin_token: str
    spares: int = 0

    def tenant(self, name: str) -> Tenant:
        return self.a if name == "a" else self.b

    def spare_tenant(self) -> Tenant:
        """A new tenant, for walks that may break what they touch (the super admin's)."""
        self.spares += 1
        return populate(self.cloud, f"s{self.spares}")


def build_world(postgres: PostgresServer, tmp: Any, **overrides: Any) -> Iterator[World]:
    """A running cloud with tenants A and B (a generator: stops the servers at its end)."""
    _, simulator = simulator_app()
    with ServerThread(simulator) as peer:
        admin = postgres.create_database("attack")
        cloud = CloudServer(
            admin,
            postgres.api_url(admin),
            tmp,
            openai_api_key=ORG_KEY,
            openai_base_url=f"{peer.base_url}/v1",
            voice_sessions_per_member_per_hour=1000,
            **overrides,
        )
        cloud.start()
        try:
            a, b = (populate(cloud, name) for name in ("a", "b"))
            cloud.add_user("root@example.com", "super_admin")
            yield World(cloud, a, b, cloud.user_token("root@example.com"))
        finally:
            cloud.stop()


def populate(cloud: CloudServer, name: str) -> Tenant:
    marker = f"SECRET-{name.upper()}-{uuid.uuid4().hex[:6]}"
    tenant = Tenant(name, marker, f"gym-{name}", f"franchise-{name}")
    tenant.gym_id = cloud.add_gym(tenant.gym_slug, franchise_slug=tenant.franchise_slug)
    cloud.sql(
        "update gyms set name = %s, city = %s where id = %s",
        (f"{marker} gym", f"{marker} city", tenant.gym_id),
    )
    tenant.franchise_id = cloud.sql(
        "update franchises set name = %s where slug = %s returning id",
        (f"{marker} franchise", tenant.franchise_slug),
    )[0]["id"]
    for role in USER_ROLES:
        email = f"{role.replace('_', '.')}.{name}@example.com"
        scope = (
            {"franchise_slug": tenant.franchise_slug}
            if role == "franchise_owner"
            else {"gym_slug": tenant.gym_slug}
        )
        tenant.user_ids[role] = cloud.add_user(email, role, **scope)
        tenant.emails[role] = email
        tenant.tokens[role] = cloud.user_token(email)
    badge = uuid.uuid4().hex[:8].upper()
    member = cloud.add_member(tenant.gym_slug, badge, f"{marker} member")
    claim = cloud.provision(tenant.gym_slug, device_id=f"device-{marker}")
    tenant.tokens["kiosk"] = cloud.kiosk_token(claim)
    kiosk = {"Authorization": f"Bearer {tenant.tokens['kiosk']}"}
    class_id = cloud.sql(
        "insert into classes (gym_id, name, coach, starts_at, duration_min, capacity) "
        "values (%s, %s, %s, now() + interval '1 day', 45, 10) returning id",
        (tenant.gym_id, f"{marker} class", f"{marker} coach"),
    )[0]["id"]
    document = cloud.sql(
        "insert into knowledge_documents (gym_id, title, body) values (%s, %s, %s) returning id",
        (tenant.gym_id, f"{marker} rules", f"{marker}: the sauna closes at nine."),
    )[0]["id"]

    session = uuid.uuid4()
    started = httpx.post(
        cloud.base_url + api.VOICE_START,
        headers=kiosk,
        json={"session_id": str(session), "member_id": str(member)},
        timeout=30,
    )
    assert started.status_code == 200, started.text
    tool_base = {"session_id": str(session), "member_id": str(member), "call_id": "c1"}
    booked = call_tool(cloud, kiosk, "book_class", tool_base, class_id=str(class_id))
    alert = call_tool(
        cloud,
        kiosk,
        "report_equipment_issue",
        tool_base,
        equipment=f"{marker} rower",
        problem=f"{marker} broken seat",
    )
    now = datetime.now(UTC)
    record = {
        "id": str(session),
        "member_id": str(member),
        "started_at": (now - timedelta(minutes=3)).isoformat(),
        "ended_at": now.isoformat(),
        "end_reason": "goodbye",
        "model": "gpt-realtime-mini",
        "turns": [
            {"index": 0, "role": "user", "content": f"{marker} my knee hurts"},
            {"index": 1, "role": "assistant", "content": f"{marker} take it easy"},
        ],
    }
    event_id = uuid.uuid4()
    event = {
        "id": str(event_id),
        "kind": "badge_refused",
        "occurred_at": now.isoformat(),
        "badge_id": badge,
        "member_id": str(member),
        "detail": {"note": marker},
    }
    for path, body in ((api.SESSIONS, {"sessions": [record]}), (api.EVENTS, {"events": [event]})):
        answer = httpx.post(cloud.base_url + path, headers=kiosk, json=body, timeout=30)
        assert answer.json()["results"][0]["outcome"] == "stored", answer.text
    stored_session = cloud.sql(
        "select id from realtime_sessions where kiosk_id = %s", (claim["kiosk_id"],)
    )[0]["id"]
    tenant.ids = {
        "gym": tenant.gym_id,
        "gym_slug": tenant.gym_slug,
        "franchise": tenant.franchise_id,
        "franchise_slug": tenant.franchise_slug,
        "kiosk": uuid.UUID(claim["kiosk_id"]),
        "kiosk_slug": claim["kiosk_slug"],
        "credential": claim["credential"],
        "device": f"device-{marker}",
        "member": member,
        "badge": badge,
        "session": session,  # as the kiosk made it
        "stored_session": stored_session,
        "event": event_id,
        "class": class_id,
        "booking": uuid.UUID(booked["booking_id"]),
        "alert": uuid.UUID(alert["alert_id"]),
        "document": document,
        "user": tenant.user_ids["gym_manager"],
        "email": tenant.emails["gym_manager"],
    }
    return tenant


def call_tool(
    cloud: CloudServer, headers: dict[str, str], tool: str, base: dict[str, str], **arguments: Any
) -> dict[str, Any]:
    answer = httpx.post(
        cloud.base_url + api.TOOL_CALL.format(name=tool),
        headers=headers,
        json={**base, "arguments": arguments},
        timeout=30,
    )
    body = answer.json()
    assert answer.status_code == 200, answer.text
    assert body["ok"], answer.text
    output: dict[str, Any] = body["output"]
    return output


def tenant_rows(cloud: CloudServer, tenant: Tenant) -> dict[str, list[dict[str, Any]]]:
    """Every row the tenant owns, table by table: rows of tables with a gym_id or franchise_id
    that is the tenant's, the gym and franchise themselves, and its users' accounts. Found
    from the catalog, so tables added later are covered without a change here."""
    scoped = cloud.sql(
        "select table_name, array_agg(column_name::text) as columns "
        "from information_schema.columns where table_schema = 'public' "
        "and column_name in ('gym_id', 'franchise_id') "
        "and table_name in (select table_name from information_schema.tables "
        "                   where table_schema = 'public' and table_type = 'BASE TABLE') "
        "group by table_name order by table_name"
    )
    rows: dict[str, list[dict[str, Any]]] = {}
    for table in scoped:
        name, columns = table["table_name"], table["columns"]
        where = " or ".join(
            f"{column} = %({column})s" for column in ("gym_id", "franchise_id") if column in columns
        )
        rows[name] = cloud.sql(
            f"select * from public.{name} where {where} order by 1",
            {"gym_id": tenant.gym_id, "franchise_id": tenant.franchise_id},
        )
    rows["gyms"] = cloud.sql("select * from gyms where id = %s", (tenant.gym_id,))
    rows["franchises"] = cloud.sql("select * from franchises where id = %s", (tenant.franchise_id,))
    users = list(tenant.user_ids.values())
    rows["auth.users"] = cloud.sql(
        "select * from auth.users where id = any(%s) order by id", (users,)
    )
    return rows
