"""Alert delivery to a real SMTP server in-process (aiosmtpd) and a real HTTP receiver that
verifies every Standard Webhooks signature; retries send only what failed; daily digests."""

from __future__ import annotations

import email
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import psycopg
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloud_api.config import CloudSettings
from cloud_api.delivery.deliver import DeliveriesFailed, deliver_alert, deliver_digests
from cloud_api.delivery.mailbox import LocalMailbox
from tests.cloud_server import ServerThread
from tests.conftest import PostgresServer
from tests.integration.pipeline import world

SECRET = "whsec_" + "C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
UNHAPPY = "Le tapis de course est encore en panne, c'est vraiment pénible, j'en ai marre."


class Receiver:
    """Verifies each webhook's signature; answers `status` (500 to simulate an outage)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self.status = 204

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        try:
            payload = Webhook(SECRET).verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.bad_signatures += 1
            return Response(status_code=400)
        if self.status >= 300:
            return Response(status_code=self.status)
        self.received.append({"id": request.headers["webhook-id"], **payload})
        return Response(status_code=self.status)


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, ServerThread]]:
    r = Receiver()
    with ServerThread(Starlette(routes=[Route("/hook", r.handle, methods=["POST"])])) as server:
        yield r, server


@pytest.fixture(scope="module")
def mailbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMailbox]:
    box = LocalMailbox(tmp_path_factory.mktemp("mail"))
    box.start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture(scope="module")
def setup(
    postgres: PostgresServer, mailbox: LocalMailbox, receiver: tuple[Receiver, ServerThread]
) -> tuple[str, CloudSettings, world.Gym, Any]:
    admin = postgres.create_database("delivery")
    settings = world.worker_settings(
        postgres,
        admin,
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        smtp_starttls=False,
        dashboard_url="https://jarvis.example",
    )
    gym = world.add_gym(admin, "delivery-gym")
    with psycopg.connect(admin) as conn:
        manager = conn.execute(
            "with u as (insert into auth.users (email) values ('boss@gym.test') returning id) "
            "insert into users (id, email, role, gym_id) select id, 'boss@gym.test', 'gym_manager', %s "
            "from u returning id",
            (gym.id,),
        ).fetchone()[0]  # type: ignore[index]
        conn.execute(
            "insert into notification_recipients (gym_id, channel, user_id, language) values (%s, 'email', %s, 'fr')",
            (gym.id, manager),
        )
        conn.execute(
            "insert into notification_recipients (gym_id, channel, email, language, alert_types) "
            "values (%s, 'email', 'tech@gym.test', 'en', '{equipment_issue}')",
            (gym.id,),
        )
        conn.execute(
            "insert into notification_recipients (gym_id, channel, webhook_url, webhook_secret) values (%s, 'webhook', %s, %s)",
            (gym.id, f"{receiver[1].base_url}/hook", SECRET),
        )
        conn.execute(
            "insert into notification_recipients (gym_id, channel, email, language, mode) "
            "values (%s, 'email', 'owner@gym.test', 'en', 'daily_digest')",
            (gym.id,),
        )
    return admin, settings, gym, manager


def mails(box: LocalMailbox) -> list[EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), _class=EmailMessage, policy=policy.default)
        for p in sorted(Path(box.folder).glob("*.eml"))
    ]


def text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def raise_alert(admin: str, settings: CloudSettings, gym: world.Gym, name: str) -> Any:
    member = world.add_member(admin, gym, name)
    world.store_session(admin, gym, member, [UNHAPPY])
    world.analyse_all(settings)
    return world.one(admin, "select id from manager_alerts where member_id = %s", (member,))


def test_an_alert_reaches_its_recipients_once(
    setup: tuple[str, CloudSettings, world.Gym, Any],
    mailbox: LocalMailbox,
    receiver: tuple[Receiver, ServerThread],
) -> None:
    admin, settings, gym, _ = setup
    hooks = receiver[0]
    alert = raise_alert(admin, settings, gym, "Hugo")
    before = len(mails(mailbox))
    report = world.run_jobs(settings, lambda rt: deliver_alert(rt, alert))
    assert report.sent == 2  # the manager's email and the webhook; not tech@ (other kinds)
    new = mails(mailbox)[before:]
    assert [(m["To"], m["Subject"]) for m in new] == [
        ("boss@gym.test", "[JARVIS] Membre mécontent : Hugo")
    ]
    body = text(new[0])
    assert "Priorité : moyenne" in body
    assert f"https://jarvis.example/dashboard/alerts/{alert}" in body
    hook = hooks.received[-1]
    assert hook["type"] == "alert.raised"
    assert hook["data"]["alert"]["id"] == str(alert)
    assert hooks.bad_signatures == 0
    # Run again (a retried job): nothing is sent twice.
    world.run_jobs(settings, lambda rt: deliver_alert(rt, alert))
    assert len(mails(mailbox)) == before + 1
    assert len([h for h in hooks.received if h["data"]["alert"]["id"] == str(alert)]) == 1
    assert world.rows(
        admin,
        "select channel, status, attempts from notification_deliveries where alert_id = %s order by channel",
        (alert,),
    ) == [("email", "sent", 1), ("webhook", "sent", 1)]


def test_a_failing_receiver_is_retried_alone(
    setup: tuple[str, CloudSettings, world.Gym, Any],
    mailbox: LocalMailbox,
    receiver: tuple[Receiver, ServerThread],
) -> None:
    admin, settings, gym, _ = setup
    hooks = receiver[0]
    alert = raise_alert(admin, settings, gym, "Lina")
    hooks.status = 500
    before = len(mails(mailbox))
    with pytest.raises(DeliveriesFailed):
        world.run_jobs(settings, lambda rt: deliver_alert(rt, alert))
    assert (
        world.one(
            admin,
            "select status, last_error from notification_deliveries where alert_id = %s and channel = 'webhook'",
            (alert,),
        )[0]
        == "failed"
    )
    hooks.status = 204
    world.run_jobs(settings, lambda rt: deliver_alert(rt, alert))
    assert len(mails(mailbox)) == before + 1  # the email went once, in the first attempt
    assert world.one(
        admin,
        "select status, attempts from notification_deliveries where alert_id = %s and channel = 'webhook'",
        (alert,),
    ) == ("sent", 2)
    assert hooks.bad_signatures == 0


def test_the_daily_digest_gathers_yesterdays_alerts(
    setup: tuple[str, CloudSettings, world.Gym, Any], mailbox: LocalMailbox
) -> None:
    admin, settings, gym, _ = setup
    alert = raise_alert(admin, settings, gym, "Yann")
    with psycopg.connect(admin) as conn:
        conn.execute(
            "update manager_alerts set created_at = now() - interval '1 day' where gym_id = %s",
            (gym.id,),
        )
    today = datetime.now(UTC).date()
    before = len(mails(mailbox))
    world.run_jobs(settings, lambda rt: deliver_digests(rt, today))
    world.run_jobs(settings, lambda rt: deliver_digests(rt, today))  # twice: one digest
    digests = [m for m in mails(mailbox)[before:] if m["To"] == "owner@gym.test"]
    assert len(digests) == 1
    assert "alert(s) yesterday" in str(digests[0]["Subject"])
    assert "Yann" in text(digests[0])
    assert alert is not None
    # Nothing yesterday for tomorrow's digest: none sent.
    world.run_jobs(settings, lambda rt: deliver_digests(rt, today + timedelta(days=2)))
    assert len([m for m in mails(mailbox)[before:] if m["To"] == "owner@gym.test"]) == 1
    assert json.dumps(True)
