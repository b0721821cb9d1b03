"""Heartbeats, sessions, events and members, as a kiosk uses them; isolation between gyms."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cloud_server import ANY_MADE, MADE, CloudServer
from tests.conftest import PostgresServer


class Kiosk:
    """A provisioned kiosk of one gym, speaking plain HTTP."""

    def __init__(self, cloud: CloudServer, gym: str) -> None:
        self.cloud = cloud
        self.claim = cloud.provision(gym)
        self.id = self.claim["kiosk_id"]
        self.token = cloud.kiosk_token(self.claim)

    def post(self, path: str, body: Any) -> httpx.Response:
        return httpx.post(
            f"{self.cloud.base_url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
        )

    def get(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(
            f"{self.cloud.base_url}{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.token}"},
        )


@pytest.fixture(scope="module")
def world(cloud: CloudServer) -> dict[str, Any]:
    members = {
        "ana": cloud.add_member("gym-a", "04A23B1C", "Ana", language="fr"),
        "ben": cloud.add_member("gym-a", "0A0B0C0D", "Ben", status="expired", language="en"),
        "cleo": cloud.add_member("gym-a", "11223344", "Cléo", status="suspended"),
        "bob": cloud.add_member("gym-b", "55667788", "Bob", language="en"),
    }
    return {"members": members, "a": Kiosk(cloud, "gym-a"), "b": Kiosk(cloud, "gym-b")}


def session(member_id: Any, **overrides: Any) -> dict[str, Any]:
    start = datetime.now(UTC) - timedelta(minutes=3)
    record = {
        "id": str(uuid.uuid4()),
        "member_id": str(member_id) if member_id else None,
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(seconds=95)).isoformat(),
        "end_reason": "goodbye",
        "model": "gpt-realtime-mini",
        "voice": "alloy",
        "language": "fr",
        "usage": {
            "input_audio_tokens": 900,
            "output_audio_tokens": 1500,
            "input_text_tokens": 700,
            "input_cached_tokens": 300,
            "output_text_tokens": 80,
        },
        "latency": {"first_response_ms": 620, "avg_response_ms": 700, "p95_response_ms": 900},
        "turns": [
            {"index": 0, "role": "user", "content": "Bonjour JARVIS"},
            {"index": 1, "role": "assistant", "content": "Bonjour Ana !"},
        ],
        "tool_calls": [{"call_id": "c1", "name": "get_opening_hours", "ok": True}],
    }
    record.update(overrides)
    return record


# -- heartbeats ------------------------------------------------------------------------------


def test_heartbeat_updates_the_kiosk_and_returns_config(
    cloud: CloudServer, world: dict[str, Any]
) -> None:
    kiosk: Kiosk = world["a"]
    response = kiosk.post(
        "/api/kiosk/heartbeat",
        {
            "status": "online",
            "software_version": "1.2.3",
            "outbox_depth": 4,
            "last_error": "microphone unplugged at 10:02",
            "health": {
                "cpu_percent": 12.5,
                "cpu_temp_c": 51.0,
                "memory_percent": 30,
                "disk_percent": 40,
                "mic_ok": False,
                "reader_ok": True,
                "network_ok": True,
            },
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["config"]["heartbeat_interval_s"] == 30
    assert body["config"]["voice"] == "alloy"
    assert "X-RateLimit-Remaining" in response.headers
    row = cloud.sql(
        "select status, software_version, last_seen_ip, last_heartbeat from kiosks where id = %s",
        (kiosk.id,),
    )[0]
    assert (row["status"], row["software_version"], row["last_seen_ip"]) == (
        "online",
        "1.2.3",
        "127.0.0.1",
    )
    stored = cloud.sql(
        "select mic_ok, outbox_depth, last_error, cpu_temp_c from kiosk_heartbeats "
        "where kiosk_id = %s",
        (kiosk.id,),
    )
    assert stored == [
        {
            "mic_ok": False,
            "outbox_depth": 4,
            "last_error": "microphone unplugged at 10:02",
            "cpu_temp_c": 51.0,
        }
    ]


def test_heartbeat_rejects_bad_input_clearly(world: dict[str, Any]) -> None:
    response = world["a"].post(
        "/api/kiosk/heartbeat", {"software_version": "1", "outbox_depth": -1}
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert "outbox_depth" in error["message"]


def test_no_token_and_forged_token(cloud: CloudServer) -> None:
    missing = httpx.post(f"{cloud.base_url}/api/kiosk/heartbeat", json={"software_version": "1"})
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "missing_token"
    forged = httpx.post(
        f"{cloud.base_url}/api/kiosk/heartbeat",
        json={"software_version": "1"},
        headers={"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."},
    )
    assert forged.status_code == 401
    assert forged.json()["error"]["code"] == "invalid_token"


# -- sessions --------------------------------------------------------------------------------


def test_session_batch_is_idempotent(cloud: CloudServer, world: dict[str, Any]) -> None:
    kiosk: Kiosk = world["a"]
    batch = {"sessions": [session(world["members"]["ana"]), session(world["members"]["ana"])]}
    outcomes = [
        [r["outcome"] for r in kiosk.post("/api/kiosk/sessions", batch).json()["results"]]
        for _ in range(3)
    ]
    assert outcomes == [
        ["stored", "stored"],
        ["duplicate", "duplicate"],
        ["duplicate", "duplicate"],
    ]
    ids = tuple(s["id"] for s in batch["sessions"])
    assert (
        cloud.sql(
            f"select count(*) as n from realtime_sessions where id = {ANY_MADE}",
            (list(ids),),
        )[0]["n"]
        == 2
    )
    assert (
        cloud.sql(
            f"select count(*) as n from conversation_turns where session_id = {ANY_MADE}",
            (list(ids),),
        )[0]["n"]
        == 4
    )
    row = cloud.sql(
        "select cost_usd, total_tokens, duration_seconds, turn_count from realtime_sessions "
        f"where id = {MADE}",
        (ids[0],),
    )[0]
    assert row["total_tokens"] == 900 + 1500 + 700 + 80
    assert float(row["duration_seconds"]) == 95.0
    assert row["cost_usd"] > 0
    # The pipeline's queue got one pending summary per session, and Ana's visit was counted.
    assert (
        cloud.sql(
            f"select count(*) as n from conversation_summaries where session_id = {ANY_MADE} "
            "and status = 'pending'",
            (list(ids),),
        )[0]["n"]
        == 2
    )
    assert (
        cloud.sql("select last_visit from gym_members where id = %s", (world["members"]["ana"],))[
            0
        ]["last_visit"]
        is not None
    )


def test_concurrent_uploads_store_once(cloud: CloudServer, world: dict[str, Any]) -> None:
    kiosk: Kiosk = world["a"]
    batch = {"sessions": [session(world["members"]["ana"]) for _ in range(5)]}
    results: list[list[str]] = []
    barrier = threading.Barrier(4)

    def upload() -> None:
        barrier.wait()
        response = kiosk.post("/api/kiosk/sessions", batch)
        results.append([r["outcome"] for r in response.json()["results"]])

    threads = [threading.Thread(target=upload) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for index in range(5):
        assert sorted(r[index] for r in results) == ["duplicate"] * 3 + ["stored"]
    ids = [s["id"] for s in batch["sessions"]]
    assert (
        cloud.sql(
            f"select count(*) as n from conversation_turns where session_id = {ANY_MADE}",
            (ids,),
        )[0]["n"]
        == 10
    )


def test_a_bad_record_does_not_sink_the_batch(cloud: CloudServer, world: dict[str, Any]) -> None:
    kiosk: Kiosk = world["a"]
    good = session(world["members"]["ana"])
    foreign = session(world["members"]["bob"])  # gym-b's member, real id
    unknown = session(uuid.uuid4())
    backwards = session(world["members"]["ana"], ended_at="2020-01-01T00:00:00+00:00")
    response = kiosk.post("/api/kiosk/sessions", {"sessions": [good, foreign, unknown, backwards]})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["outcome"] for r in results] == ["stored", "rejected", "rejected", "rejected"]
    assert "gym" in results[1]["message"]
    stored = cloud.sql(
        f"select id from realtime_sessions where id = {ANY_MADE}",
        ([good["id"], foreign["id"], unknown["id"], backwards["id"]],),
    )
    assert len(stored) == 1
    assert cloud.sql(f"select id from realtime_sessions where id = {MADE}", (good["id"],)) == stored


def test_a_kiosk_cannot_overwrite_another_kiosks_session(
    cloud: CloudServer, world: dict[str, Any]
) -> None:
    record = session(world["members"]["bob"])
    assert (
        world["b"]
        .post("/api/kiosk/sessions", {"sessions": [record]})
        .json()["results"][0]["outcome"]
        == "stored"
    )
    # The same id from another gym's kiosk is a record of its own (ids are scoped per gym).
    mine = world["a"].post(
        "/api/kiosk/sessions", {"sessions": [record | {"member_id": str(world["members"]["ana"])}]}
    )
    assert mine.json()["results"][0]["outcome"] == "stored"
    rows = cloud.sql(
        f"select kiosk_id::text, member_id from realtime_sessions where id = {ANY_MADE} "
        "order by kiosk_id = %s",
        ([record["id"]], world["a"].id),
    )
    assert rows == [
        {"kiosk_id": world["b"].id, "member_id": world["members"]["bob"]},
        {"kiosk_id": world["a"].id, "member_id": world["members"]["ana"]},
    ]


def test_the_cost_breakdown_answer_figures_and_reconnects_are_stored(
    cloud: CloudServer, world: dict[str, Any]
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=2)
    record = session(
        world["members"]["ana"],
        usage={
            "input_text_tokens": 3700,
            "input_audio_tokens": 522,
            "input_cached_tokens": 2496,
            "input_cached_text_tokens": 2304,
            "input_cached_audio_tokens": 192,
            "output_text_tokens": 48,
            "output_audio_tokens": 315,
        },
        transcription_tokens=73,
        latency={"first_response_ms": 350, "greeting_ms": 430},
        transcription={
            "model": "gpt-4o-mini-transcribe",
            "input_audio_tokens": 57,
            "output_text_tokens": 16,
        },
        turns=[
            {"index": 0, "role": "user", "content": "Mes cours ?", "audio_ms": 1200},
            {
                "index": 1,
                "role": "assistant",
                "content": "Tu as yoga",
                "audio_ms": 500,
                "response_ms": 350,
                "playback_ms": 400,
                "interrupted": True,
                "after_reconnect": False,
            },
        ],
        reconnects=[
            {
                "at": (start + timedelta(seconds=3)).isoformat(),
                "cause": "connection closed (1011: server_error)",
                "attempt": 1,
                "resumed_after_ms": 600,
                "asked_again": True,
            }
        ],
    )
    assert world["a"].post("/api/kiosk/sessions", {"sessions": [record]}).json()["results"][0][
        "outcome"
    ] == ("stored")
    row = cloud.sql(
        "select cost_usd, cost_breakdown, input_cached_text_tokens, input_cached_audio_tokens, "
        "transcription_model, transcription_input_audio_tokens, transcription_output_tokens, "
        "reconnect_count, reconnects, greeting_ms from realtime_sessions "
        f"where id = {MADE}",
        (record["id"],),
    )[0]
    # The recorded session of tests/unit/realtime/test_cost.py: the same table, the same cost.
    assert str(row["cost_usd"]) == "0.01100"
    assert row["cost_breakdown"] == {
        "text_input": 0.000838,
        "cached_text_input": 0.000138,
        "audio_input": 0.0033,
        "cached_audio_input": 0.000058,
        "text_output": 0.000115,
        "audio_output": 0.0063,
        "transcription": 0.000251,
    }
    assert (row["input_cached_text_tokens"], row["input_cached_audio_tokens"]) == (2304, 192)
    assert (
        row["transcription_model"],
        row["transcription_input_audio_tokens"],
        row["transcription_output_tokens"],
    ) == ("gpt-4o-mini-transcribe", 57, 16)
    assert row["reconnect_count"] == 1
    assert row["greeting_ms"] == 430
    assert row["reconnects"][0]["cause"] == "connection closed (1011: server_error)"
    assert row["reconnects"][0]["asked_again"] is True
    [answer] = cloud.sql(
        "select response_ms, playback_ms, interrupted, after_reconnect, audio_ms "
        "from conversation_turns where role = 'assistant' and session_id = "
        f"(select id from realtime_sessions where id = {MADE})",
        (record["id"],),
    )
    assert answer == {
        "response_ms": 350,
        "playback_ms": 400,
        "interrupted": True,
        "after_reconnect": False,
        "audio_ms": 500,
    }


def test_unknown_model_is_stored_with_a_note(cloud: CloudServer, world: dict[str, Any]) -> None:
    record = session(world["members"]["ana"], model="gpt-9-realtime")
    assert (
        world["a"]
        .post("/api/kiosk/sessions", {"sessions": [record]})
        .json()["results"][0]["outcome"]
        == "stored"
    )
    row = cloud.sql(
        f"select cost_usd, errors from realtime_sessions where id = {MADE}", (record["id"],)
    )[0]
    assert row["cost_usd"] == 0
    assert "no price known" in row["errors"][0]


def test_events_are_idempotent_and_scoped(cloud: CloudServer, world: dict[str, Any]) -> None:
    event = {
        "id": str(uuid.uuid4()),
        "kind": "badge_refused",
        "occurred_at": datetime.now(UTC).isoformat(),
        "badge_id": "0A0B0C0D",
        "member_id": str(world["members"]["ben"]),
        "detail": {"status": "expired"},
    }
    foreign = event | {"id": str(uuid.uuid4()), "member_id": str(world["members"]["bob"])}
    first = world["a"].post("/api/kiosk/events", {"events": [event, foreign]}).json()["results"]
    again = world["a"].post("/api/kiosk/events", {"events": [event]}).json()["results"]
    assert [r["outcome"] for r in first] == ["stored", "stored"]
    assert again[0]["outcome"] == "duplicate"
    rows = cloud.sql(
        f"select id, member_id::text, gym_id from kiosk_events where id = {MADE} or id = {MADE}",
        (event["id"], foreign["id"]),
    )
    assert len(rows) == 2
    by_id = {
        event["id"]: next(r for r in rows if r["member_id"] is not None),
        foreign["id"]: next(r for r in rows if r["member_id"] is None),
    }
    assert by_id[event["id"]]["member_id"] == str(world["members"]["ben"])
    assert by_id[foreign["id"]]["member_id"] is None  # another gym's member is not linked


# -- members ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("badge", "status", "name"),
    [
        ("04A23B1C", "active", "Ana"),
        ("04:a2:3b:1c", "active", "Ana"),  # normalized as the kiosk does
        ("0A0B0C0D", "expired", "Ben"),
        ("11223344", "suspended", "Cléo"),
        ("55667788", "unknown", None),  # gym-b's member: unknown to a gym-a kiosk
        ("DEADBEEF", "unknown", None),
    ],
)
def test_member_lookup(world: dict[str, Any], badge: str, status: str, name: str | None) -> None:
    response = world["a"].get(f"/api/kiosk/members/by-badge/{badge}")
    assert response.status_code == 200, response.text
    card = response.json()
    assert (card["status"], card["first_name"]) == (status, name)
    if status == "unknown":
        assert card["member_id"] is None


def test_member_lookup_rejects_garbage(world: dict[str, Any]) -> None:
    response = world["a"].get("/api/kiosk/members/by-badge/not-a-badge!")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "badge_malformed"


def test_member_sync_pages_and_tombstones(cloud: CloudServer, world: dict[str, Any]) -> None:
    kiosk: Kiosk = world["a"]
    first = kiosk.get("/api/kiosk/members", limit=2)
    assert first.status_code == 200
    seen: dict[str, str] = {}
    page = first.json()
    pages = 0
    cursor = None
    while True:
        pages += 1
        for card in page["members"]:
            seen[card["badge_id"]] = card["status"]
        cursor = page["next_cursor"]
        if not page["has_more"] or pages > 20:
            break
        page = kiosk.get("/api/kiosk/members", limit=2, cursor=cursor).json()
    assert seen == {"04A23B1C": "active", "0A0B0C0D": "expired", "11223344": "suspended"}
    # Rows younger than the safety window are sent again next time, never skipped.
    cloud.add_member("gym-a", "99887766", "Dora")
    cloud.sql("delete from gym_members where badge_id = '11223344'")
    later = {
        c["badge_id"]: c["status"]
        for c in kiosk.get("/api/kiosk/members", cursor=cursor).json()["members"]
    }
    assert later["99887766"] == "active"
    assert later["11223344"] == "unknown"
    assert "55667788" not in later


def test_member_sync_cursor_must_be_ours(world: dict[str, Any]) -> None:
    response = world["a"].get("/api/kiosk/members", cursor="bm90LWEtY3Vyc29y")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "cursor_malformed"


# -- rate limits -----------------------------------------------------------------------------


def test_rate_limit_headers_and_429(postgres: PostgresServer, tmp_path: Path) -> None:
    admin = postgres.create_database("ratelimit")
    server = CloudServer(admin, postgres.api_url(admin), tmp_path, rate_limit_api_per_min=3)
    server.add_gym("gym-a")
    server.start()
    try:
        kiosk = server.provision("gym-a")
        token = server.kiosk_token(kiosk)
        answers = [
            httpx.post(
                f"{server.base_url}/api/kiosk/heartbeat",
                json={"software_version": "1"},
                headers={"Authorization": f"Bearer {token}"},
            )
            for _ in range(4)
        ]
    finally:
        server.stop()
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert answers[0].headers["X-RateLimit-Limit"] == "3"
    limited = answers[3]
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert "at most 3 per minute" in limited.json()["error"]["message"]


def test_values_the_database_refuses_are_a_clear_422(world: dict[str, Any]) -> None:
    response = world["a"].post(
        "/api/kiosk/heartbeat", {"software_version": "1", "last_error": "bad\u0000byte"}
    )
    # Text Postgres cannot store is refused by the schema already, naming the field.
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_failed"
    assert response.json()["error"]["details"][0]["field"] == "last_error"
    tiny = world["a"].post(
        "/api/kiosk/heartbeat", {"software_version": "1", "health": {"cpu_percent": 1e-310}}
    )
    assert tiny.status_code == 200  # rounded to a figure, not an underflow
