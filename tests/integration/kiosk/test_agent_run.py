"""`jarvis-kiosk run` as systemd runs it, against a real cloud: readiness and watchdog,
heartbeats, badges refused with a message and an event, status, a clean stop."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cloud_server import CloudServer
from tests.integration.kiosk.kiosk_home import KioskHome, NotifyListener, status_json, wait_for


@pytest.fixture
def home(tmp_path: Path) -> KioskHome:
    return KioskHome(tmp_path / "kiosk")


def events(cloud: CloudServer, kiosk_id: object) -> list[dict[str, Any]]:
    return cloud.sql(
        "select kind, badge_id, member_id, detail from kiosk_events where kiosk_id = %s "
        "order by occurred_at",
        (kiosk_id,),
    )


def test_the_agent_runs_heartbeats_and_turns_refused_badges_into_events(
    cloud: CloudServer, home: KioskHome, tmp_path: Path
) -> None:
    identity = home.provision(cloud.base_url, cloud.create_kiosk("gym-a", "Run test"))
    expired = cloud.add_member("gym-a", "0E0E0E0E", "Eve", status="expired")
    active = cloud.add_member("gym-a", "0A0A0A0A", "Aline", language="fr")
    notify = NotifyListener(tmp_path / "notify")
    agent = home.start(env=notify.env(watchdog_s=2.0))
    try:
        wait_for(lambda: "READY=1" in "\n".join(notify.messages), what="READY=1")
        wait_for(lambda: "WATCHDOG=1" in notify.messages, what="a watchdog ping")
        beat = wait_for(
            lambda: cloud.sql(
                "select software_version, reader_ok, network_ok, outbox_depth, health "
                "from kiosk_heartbeats where kiosk_id = %s order by id desc limit 1",
                (identity.kiosk_id,),
            ),
            what="a heartbeat in the cloud",
        )[0]
        assert beat["software_version"]
        assert beat["reader_ok"] is True  # the simulated reader is listening
        assert beat["health"]["store_ok"] is True
        assert beat["health"]["extra"]["agent_state"] in ("idle", "offline")
        kiosk = cloud.sql(
            "select status, last_heartbeat from kiosks where id = %s", (identity.kiosk_id,)
        )[0]
        assert kiosk["status"] == "online"

        assert home.tap("FFEEDDCC")["badge_id"] == "FFEEDDCC"
        wait_for(
            lambda: any(e["kind"] == "badge_unknown" for e in events(cloud, identity.kiosk_id)),
            what="the unknown badge's event",
        )
        screen = json.loads((home.state_dir / "screen.json").read_text())
        assert screen["text"] == "Ce badge n'est pas reconnu. Merci de vous adresser à l'accueil."

        home.tap("0E0E0E0E")
        refused = wait_for(
            lambda: [e for e in events(cloud, identity.kiosk_id) if e["kind"] == "badge_refused"],
            what="the expired badge's event",
        )[0]
        assert refused["member_id"] == expired
        assert refused["detail"] == {"source": "cloud", "status": "expired"}

        home.tap("0A0A0A0A")  # active, but this cloud has no OpenAI key: voice is refused
        session_refused = wait_for(
            lambda: [e for e in events(cloud, identity.kiosk_id) if e["kind"] == "session_refused"],
            what="the refused voice session's event",
        )[0]
        assert session_refused["member_id"] == active
        assert session_refused["detail"]["reason"] == "voice_not_configured"
        screen = json.loads((home.state_dir / "screen.json").read_text())
        assert screen["notice"] == "session_refused"
        assert screen["language"] == "fr"

        report = wait_for(
            lambda: (lambda s: s if s["outbox_depth"] == 0 and s["last_heartbeat_ok"] else None)(
                status_json(home)
            ),
            what="an empty outbox and a delivered heartbeat in `status`",
        )
        assert report["agent_running"] is True
        assert report["state"] == "idle"
        assert report["kiosk"] == identity.describe()
        text = home.cli("status").stdout
        assert "Agent:          running" in text
        assert "Outbox:         0 waiting" in text
        assert any(m.startswith("STATUS=idle") for m in notify.messages)
    finally:
        code = agent.stop()
        notify.close()
    assert code == 0, agent.output
    assert any("STOPPING=1" in m for m in notify.messages)
    assert identity.credential.get_secret_value() not in agent.output  # never logged
    assert "Traceback" not in agent.output
    stopped = status_json(home)
    assert stopped["agent_running"] is False
    assert stopped["state"] == "stopped"
    started = [e for e in events(cloud, identity.kiosk_id) if e["kind"] == "agent_started"]
    assert started[0]["detail"]["previous_exit"] == "first_start"


def test_an_unprovisioned_agent_waits_for_provisioning_then_connects(
    cloud: CloudServer, home: KioskHome
) -> None:
    agent = home.start()
    try:
        agent.wait_for_line("this kiosk is not provisioned: run `jarvis-kiosk provision`")
        assert status_json(home)["state"] == "unprovisioned"
        identity = home.provision(cloud.base_url, cloud.create_kiosk("gym-b", "Late"))
        agent.wait_for_line("reporting to")
        wait_for(
            lambda: cloud.sql(
                "select 1 from kiosk_heartbeats where kiosk_id = %s", (identity.kiosk_id,)
            ),
            what="a heartbeat once provisioned",
        )
    finally:
        assert agent.stop() == 0, agent.output


def test_a_revoked_kiosk_goes_back_to_unprovisioned_without_crashing(
    cloud: CloudServer, home: KioskHome
) -> None:
    identity = home.provision(cloud.base_url, cloud.create_kiosk("gym-a", "Revoked"))
    agent = home.start()
    try:
        wait_for(
            lambda: cloud.sql(
                "select 1 from kiosk_heartbeats where kiosk_id = %s", (identity.kiosk_id,)
            ),
            what="a first heartbeat",
        )
        cloud.sql(
            "update kiosk_credentials set revoked_at = now() where kiosk_id = %s",
            (identity.kiosk_id,),
        )
        agent.wait_for_line("provision --force")
        wait_for(
            lambda: status_json(home)["state"] == "unprovisioned", what="the unprovisioned state"
        )
        assert agent.alive()
    finally:
        assert agent.stop() == 0, agent.output
