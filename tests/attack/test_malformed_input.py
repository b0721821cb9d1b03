"""Inputs that used to get a 500: deeply nested JSON, unreadable bodies, a write RLS refuses.

Bad input is a 4xx with the one error shape, and nothing is stored."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from contract import kiosk_api as api
from tests.cloud_server import CloudServer


def nested(depth: int) -> str:
    """A JSON object `depth` levels deep, compactly: {"a": [[[ ... 1 ... ]]]}."""
    return '{"a":' + "[" * (depth - 1) + "1" + "]" * (depth - 1) + "}"


@pytest.fixture(scope="module")
def kiosk(cloud: CloudServer) -> dict[str, str]:
    cloud.add_member("gym-a", "DEE90001", "Deep")
    token = cloud.kiosk_token(cloud.provision("gym-a"))
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def session_with_arguments(arguments: str) -> str:
    now = datetime.now(UTC).isoformat()
    record = {
        "id": str(uuid.uuid4()),
        "member_id": None,
        "started_at": now,
        "ended_at": now,
        "end_reason": "goodbye",
        "model": "gpt-realtime-mini",
        "tool_calls": [{"call_id": "c1", "name": "get_opening_hours", "ok": True}],
    }
    document = json.dumps({"sessions": [record]})
    return document.replace('"ok": true', f'"ok": true, "arguments": {arguments}')


def event_with_detail(detail: str) -> str:
    event = {
        "id": str(uuid.uuid4()),
        "kind": "agent_error",
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    return json.dumps({"events": [event]})[:-2] + f', "detail": {detail}}}]}}'


BODIES = {
    "heartbeat extra": (
        api.HEARTBEAT,
        lambda deep: '{"software_version": "1", "health": {"extra": ' + deep + "}}",
    ),
    "session tool arguments": (api.SESSIONS, session_with_arguments),
    "event detail": (api.EVENTS, event_with_detail),
    "tool call arguments": (
        api.TOOL_CALL.format(name="get_opening_hours"),
        lambda deep: (
            json.dumps(
                {"session_id": str(uuid.uuid4()), "member_id": str(uuid.uuid4()), "call_id": "c"}
            )[:-1]
            + f', "arguments": {deep}}}'
        ),
    ),
    "claim hardware": (
        api.PROVISION_CLAIM,
        lambda deep: '{"code": "ABC123", "device_id": "d", "hardware_info": ' + deep + "}",
    ),
}


@pytest.mark.parametrize("depth", [api.MAX_JSON_DEPTH + 1, 900, 5000])
@pytest.mark.parametrize("where", sorted(BODIES))
def test_deeply_nested_json_is_refused_with_422(
    cloud: CloudServer, kiosk: dict[str, str], where: str, depth: int
) -> None:
    path, body = BODIES[where]
    before = stored_counts(cloud)
    answer = httpx.post(cloud.base_url + path, content=body(nested(depth)), headers=kiosk)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "validation_failed"
    assert stored_counts(cloud) == before


@pytest.mark.parametrize("where", sorted(BODIES))
def test_nesting_up_to_the_limit_is_accepted(
    cloud: CloudServer, kiosk: dict[str, str], where: str
) -> None:
    path, body = BODIES[where]
    answer = httpx.post(
        cloud.base_url + path, content=body(nested(api.MAX_JSON_DEPTH)), headers=kiosk
    )
    assert answer.status_code != 422 or "nested" not in answer.text, answer.text
    assert answer.status_code < 500


def test_a_body_that_is_not_utf8_is_refused_with_422(
    cloud: CloudServer, kiosk: dict[str, str]
) -> None:
    answer = httpx.post(
        cloud.base_url + api.HEARTBEAT,
        content=b'{"software_version": "\xff\xfe"}',
        headers=kiosk,
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "validation_failed"


def stored_counts(cloud: CloudServer) -> dict[str, Any]:
    return cloud.sql(
        "select (select count(*) from kiosk_heartbeats) as heartbeats, "
        "(select count(*) from realtime_sessions) as sessions, "
        "(select count(*) from kiosk_events) as events, "
        "(select count(*) from kiosk_commands) as commands"
    )[0]


def test_staff_asking_for_a_rotation_is_refused_not_a_500(cloud: CloudServer) -> None:
    claim = cloud.provision("gym-a")
    cloud.add_user("rotating.staff@example.com", "gym_staff", gym_slug="gym-a")
    token = cloud.user_token("rotating.staff@example.com")
    before = stored_counts(cloud)

    answer = httpx.post(
        f"{cloud.base_url}/api/kiosks/{claim['kiosk_id']}/rotate",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert answer.status_code == 403, answer.text
    assert answer.json()["error"]["code"] == "forbidden"
    assert stored_counts(cloud) == before
