"""A kiosk learns nothing of another gym from the ids it makes: an event, session or voice
session id that exists in another gym answers exactly as a fresh id does, is stored as the
caller's own, and leaves the other gym's row as it was. Idempotency stays exact."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from contract import kiosk_api as api
from tests.attack.world import World, tenant_rows


def event(event_id: Any) -> dict[str, Any]:
    return {
        "id": str(event_id),
        "kind": "agent_started",
        "occurred_at": datetime.now(UTC).isoformat(),
    }


def record(session_id: Any, member: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "id": str(session_id),
        "member_id": str(member),
        "started_at": (now - timedelta(minutes=1)).isoformat(),
        "ended_at": now.isoformat(),
        "end_reason": "goodbye",
        "model": "gpt-realtime-mini",
    }


def post(world: World, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        world.cloud.base_url + path, headers=world.a.headers("kiosk"), json=body, timeout=30
    )


def outcomes(answer: httpx.Response) -> list[tuple[str, str | None]]:
    assert answer.status_code == 200, answer.text
    return [(r["outcome"], r["message"]) for r in answer.json()["results"]]


def test_another_gyms_ids_answer_as_fresh_ids(world: World) -> None:
    theirs = world.b.ids
    member = world.a.ids["member"]
    before = tenant_rows(world.cloud, world.b)

    fresh_event = outcomes(post(world, api.EVENTS, {"events": [event(uuid.uuid4())]}))
    their_event = outcomes(post(world, api.EVENTS, {"events": [event(theirs["event"])]}))
    fresh_session = outcomes(
        post(world, api.SESSIONS, {"sessions": [record(uuid.uuid4(), member)]})
    )
    their_session = outcomes(
        post(world, api.SESSIONS, {"sessions": [record(theirs["session"], member)]})
    )
    voice = [
        post(world, api.VOICE_START, {"session_id": str(made), "member_id": str(member)})
        for made in (uuid.uuid4(), theirs["session"])
    ]

    assert their_event == fresh_event == [("stored", None)]
    assert their_session == fresh_session == [("stored", None)]
    assert [answer.status_code for answer in voice] == [200, 200], voice[1].text
    assert set(voice[1].json()) == set(voice[0].json())
    assert tenant_rows(world.cloud, world.b) == before


def test_idempotency_is_exact_within_the_gym(world: World) -> None:
    member = world.a.ids["member"]
    made = uuid.uuid4()
    first = outcomes(post(world, api.SESSIONS, {"sessions": [record(made, member)]}))
    again = outcomes(post(world, api.SESSIONS, {"sessions": [record(made, member)]}))
    events = [outcomes(post(world, api.EVENTS, {"events": [event(made)]})) for _ in range(2)]
    assert first == [("stored", None)]
    assert again == [("duplicate", None)]
    assert events == [[("stored", None)], [("duplicate", None)]]
    stored = world.cloud.sql(
        "select count(*) as n from realtime_sessions where member_id = %s "
        "and id = private.gym_record_id(gym_id, %s)",
        (member, made),
    )
    assert stored == [{"n": 1}]


def test_a_voice_session_started_with_another_gyms_id_runs_tools(world: World) -> None:
    """The id is the caller's own from start to end: its tools find its session."""
    member = world.a.ids["member"]
    made = world.b.ids["session"]
    started = post(world, api.VOICE_START, {"session_id": str(made), "member_id": str(member)})
    assert started.status_code == 200, started.text
    answer = httpx.post(
        world.cloud.base_url + api.TOOL_CALL.format(name="get_opening_hours"),
        headers=world.a.headers("kiosk"),
        json={"session_id": str(made), "member_id": str(member), "call_id": "c9", "arguments": {}},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["ok"] is True
