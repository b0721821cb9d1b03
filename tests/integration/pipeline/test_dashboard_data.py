"""The data functions the dashboards build on, under real users' claims through the API's
role: RLS decides what each one sees and may change."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from cloud_api.data import analytics, notifications
from cloud_api.db.database import SET_REQUEST_CONTEXT, request_context
from cloud_api.jobs import scheduled
from tests.conftest import PostgresServer
from tests.integration.pipeline import world


@pytest.fixture(scope="module")
def scene(postgres: PostgresServer) -> dict[str, Any]:
    admin = postgres.create_database("dashboard")
    settings = world.worker_settings(postgres, admin)
    mine, theirs = world.add_gym(admin, "mine"), world.add_gym(admin, "theirs")
    for gym in (mine, theirs):
        member = world.add_member(admin, gym, f"Risky-{gym.slug}", expires_in_days=5)
        for day in (35, 38, 41, 44):
            world.store_session(
                admin, gym, member, ["Le tapis est en panne, j'en ai marre."], days_ago=day
            )
    world.analyse_all(settings)
    world.run_jobs(settings, lambda rt: scheduled.daily_churn(rt, rt.clock()))
    users = {}
    with psycopg.connect(admin) as conn:
        for name, role in (("manager", "gym_manager"), ("staff", "gym_staff")):
            users[name] = conn.execute(
                "with u as (insert into auth.users (email) values (%s) returning id) "
                "insert into users (id, email, role, gym_id) select id, %s, %s, %s from u returning id",
                (f"{name}@mine.test", f"{name}@mine.test", role, mine.id),
            ).fetchone()[0]  # type: ignore[index]
    return {"admin": admin, "api": postgres.api_url(admin), "mine": mine, "theirs": theirs, **users}


def as_user(scene: dict[str, Any], user: str, work: Callable[[Any], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        conn = await psycopg.AsyncConnection.connect(scene["api"], row_factory=dict_row)
        async with conn, conn.transaction():
            claims = {"sub": str(scene[user]), "role": "authenticated"}
            await conn.execute(SET_REQUEST_CONTEXT, request_context(claims))
            return await work(conn)

    return asyncio.run(go())


def test_a_manager_sees_their_gyms_members_at_risk_and_nobody_elses(scene: dict[str, Any]) -> None:
    rows = as_user(scene, "manager", lambda c: analytics.members_at_risk(c))
    assert [(r["first_name"], r["churn_risk_level"]) for r in rows] == [("Risky-mine", "critical")]
    assert {f["factor"] for f in rows[0]["churn_factors"]} >= {
        "negative_sentiment",
        "membership_expiring",
    }
    overview = as_user(scene, "manager", lambda c: analytics.gym_overview(c, scene["mine"].id))
    assert overview["members"] == 1
    assert overview["members_by_churn_level"] == {"critical": 1}
    assert overview["open_alerts"] >= 1
    hidden = as_user(scene, "manager", lambda c: analytics.gym_overview(c, scene["theirs"].id))
    assert hidden["members"] == 0
    assert hidden["open_alerts"] == 0
    since = date.today() - timedelta(days=60)
    assert as_user(scene, "manager", lambda c: analytics.daily_costs(c, since=since)) == []


def test_managers_manage_recipients_staff_do_not_and_secrets_stay_hidden(
    scene: dict[str, Any],
) -> None:
    hook = notifications.Recipient(
        gym_id=scene["mine"].id, channel="webhook", webhook_url="https://hooks.example/jarvis"
    )
    row, secret = as_user(scene, "manager", lambda c: notifications.add_recipient(c, hook))
    assert secret is not None
    assert secret.startswith("whsec_")
    assert "webhook_secret" not in row
    listed = as_user(scene, "manager", lambda c: notifications.list_recipients(c))
    assert [r["webhook_url"] for r in listed] == ["https://hooks.example/jarvis"]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_user(
            scene,
            "manager",
            lambda c: c.execute("select webhook_secret from notification_recipients"),
        )
    assert as_user(scene, "staff", lambda c: notifications.list_recipients(c)) == []
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_user(scene, "staff", lambda c: notifications.add_recipient(c, hook))
    elsewhere = notifications.Recipient(
        gym_id=scene["theirs"].id, channel="email", email="x@y.test"
    )
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_user(scene, "manager", lambda c: notifications.add_recipient(c, elsewhere))
    assert as_user(scene, "manager", lambda c: notifications.remove_recipient(c, row["id"])) is True
