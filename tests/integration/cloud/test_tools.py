"""JARVIS's tools through the real cloud: each tool's effect in the database, its error path,
and isolation — a kiosk of gym A with gym B's real ids changes nothing and learns nothing.

Sessions are started through the API against the project's Realtime simulator; the same
local server also answers `POST /v1/embeddings` (deterministic vectors, a slow answer on
demand) for the OpenAI-embedding path of the knowledge search.
"""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from cloud_api.seed.tools import seed_classes, seed_knowledge
from cloud_api.tools.embedding import document_embedder, local_embedding, pgvector
from tests.cloud_server import MADE, CloudServer, ServerThread, add_standard_gyms
from tests.conftest import PostgresServer
from tests.integration.cloud.voice_peers import (
    ORG_KEY,
    badge,
    kiosk_headers,
    set_profile,
    simulator_app,
    start,
)

SLOW_WORD = "lentement"
ALL_DAY = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
SHUT = {d: [] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


# -- the local OpenAI peer: simulator + embeddings ---------------------------------------------


class Embeddings:
    """`POST /v1/embeddings` answering local-embedding vectors, in OpenAI's shape."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    async def handle(self, request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {ORG_KEY}":
            return JSONResponse(
                {
                    "error": {
                        "message": "bad key",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": "invalid_api_key",
                    }
                },
                401,
            )
        body = await request.json()
        self.requests.append(body)
        inputs = [body["input"]] if isinstance(body["input"], str) else body["input"]
        if any(SLOW_WORD in text for text in inputs):
            await asyncio.sleep(3)
        data = []
        for index, text in enumerate(inputs):
            vector = local_embedding(text)
            embedding: Any = vector
            if body.get("encoding_format") == "base64":
                embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
        )


@pytest.fixture(scope="module")
def openai_peer() -> Iterator[tuple[ServerThread, Embeddings]]:
    _, simulator = simulator_app()
    embeddings = Embeddings()
    # Ahead of the simulator's own /v1/embeddings: these vectors are the local embedder's.
    app = Starlette(
        routes=[
            Route("/v1/embeddings", embeddings.handle, methods=["POST"]),
            Mount("/", app=simulator),  # the simulator's app is wrapped: mounted, not unpacked
        ]
    )
    with ServerThread(app) as server:
        yield server, embeddings


@pytest.fixture(scope="module")
def tools_cloud(
    postgres: PostgresServer,
    tmp_path_factory: pytest.TempPathFactory,
    openai_peer: tuple[ServerThread, Embeddings],
) -> Iterator[CloudServer]:
    admin = postgres.create_database("tools")
    server = CloudServer(
        admin,
        postgres.api_url(admin),
        tmp_path_factory.mktemp("tools"),
        openai_api_key=ORG_KEY,
        openai_base_url=f"{openai_peer[0].base_url}/v1",
        voice_sessions_per_member_per_hour=1000,
        tool_timeout_s=1,
    )
    add_standard_gyms(server)
    for slug, hours in (("gym-allday", ALL_DAY), ("gym-shut", SHUT)):
        server.add_gym(slug)
        server.sql("update gyms set opening_hours = %s where slug = %s", (json.dumps(hours), slug))
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- helpers --------------------------------------------------------------------------------


@dataclass
class Talk:
    """A kiosk talking with a member: what every tool call needs."""

    cloud: CloudServer
    kiosk: dict[str, Any]
    headers: dict[str, str]
    member: uuid.UUID
    session: uuid.UUID

    def call(
        self, tool: str, /, *, member: Any = None, session: Any = None, **arguments: Any
    ) -> httpx.Response:
        return httpx.post(
            f"{self.cloud.base_url}/api/jarvis/tools/{tool}",
            headers=self.headers,
            timeout=30,
            json={
                "session_id": str(session or self.session),
                "member_id": str(member or self.member),
                "call_id": f"call_{uuid.uuid4().hex[:8]}",
                "arguments": arguments,
            },
        )

    def ok(self, tool: str, /, **arguments: Any) -> dict[str, Any]:
        response = self.call(tool, **arguments)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["ok"] is True, body
        return body

    def refused(self, tool: str, /, **arguments: Any) -> str:
        response = self.call(tool, **arguments)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["ok"] is False, body
        assert body["output"] is None, body
        error: str = body["error"]
        return error

    def with_member(self, first_name: str, language: str = "fr") -> Talk:
        """Another member at the same kiosk, in a session of their own."""
        member = self.cloud.add_member(
            self.kiosk["gym_slug"], badge(), first_name, language=language
        )
        return Talk(
            self.cloud,
            self.kiosk,
            self.headers,
            member,
            started_session(self.cloud, self.headers, member),
        )


def started_session(cloud: CloudServer, headers: dict[str, str], member: Any) -> uuid.UUID:
    session = uuid.uuid4()
    response = start(cloud, headers, member, session)
    assert response.status_code == 200, response.text
    return session


def talk(cloud: CloudServer, gym: str, first_name: str = "Léa", language: str = "fr") -> Talk:
    kiosk, headers = kiosk_headers(cloud, gym)
    member = cloud.add_member(gym, badge(), first_name, language=language)
    return Talk(cloud, kiosk, headers, member, started_session(cloud, headers, member))


def add_class(
    cloud: CloudServer,
    gym: str,
    name: str,
    *,
    in_hours: float = 2,
    capacity: int = 10,
    waitlist: int = 0,
    status: str = "scheduled",
) -> uuid.UUID:
    return cloud.sql(
        "insert into classes (gym_id, name, coach, room, starts_at, duration_min, capacity, "
        "waitlist_capacity, status) select id, %s, 'Camille', 'Studio 1', "
        "now() + %s * interval '1 hour', 45, %s, %s, %s from gyms where slug = %s returning id",
        (name, in_hours, capacity, waitlist, status, gym),
    )[0]["id"]


def bookings(cloud: CloudServer, class_id: Any) -> dict[uuid.UUID, str]:
    rows = cloud.sql(
        "select member_id, status from class_bookings where class_id = %s", (class_id,)
    )
    return {r["member_id"]: r["status"] for r in rows}


def gym_state(cloud: CloudServer, gym: str) -> dict[str, Any]:
    """Everything a tool could change for a gym, to compare before and after."""
    gym_id = cloud.sql("select id from gyms where slug = %s", (gym,))[0]["id"]
    state: dict[str, Any] = {}
    for table, order in (
        ("class_bookings", "id"),
        ("manager_alerts", "id"),
        ("member_fitness_profile", "member_id"),
        ("voice_session_starts", "id"),
        ("classes", "id"),
    ):
        state[table] = cloud.sql(
            f"select * from {table} where gym_id = %s order by {order}", (gym_id,)
        )
    state["audit_log"] = cloud.sql(
        "select count(*) as n from audit_log where gym_id = %s", (gym_id,)
    )
    return state


# -- the call itself ----------------------------------------------------------------------------


def test_unknown_tool_and_invalid_arguments(tools_cloud: CloudServer) -> None:
    me = talk(tools_cloud, "gym-a")
    unknown = me.call("open_the_pod_bay_doors")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "unknown_tool"
    assert "book_class" in unknown.json()["error"]["message"]

    # Argument errors are for the model, which fixes its call: in English, whatever the
    # member's language.
    error = me.refused("book_class", class_id="the yoga one")
    assert error.startswith("I couldn't do that: the value of 'class_id'")
    error = me.refused("get_opening_hours", day="someday")
    assert "'day'" in error
    error = me.refused("search_gym_knowledge", query="douches", colour="blue")
    assert "'colour'" in error
    error = me.refused("report_equipment_issue", equipment="rameur\x00", problem="cassé")
    assert "NUL" in error
    assert tools_cloud.sql("select 1 from manager_alerts where member_id = %s", (me.member,)) == []
    weird = me.call("é" * 300)
    assert weird.status_code == 404
    assert weird.json()["error"]["code"] == "unknown_tool"
    malformed = httpx.post(
        f"{tools_cloud.base_url}/api/jarvis/tools/book_class",
        headers=me.headers,
        json={"member_id": str(me.member)},
    )
    assert malformed.status_code == 422


def test_session_must_be_this_kiosks_this_members_and_live(tools_cloud: CloudServer) -> None:
    me = talk(tools_cloud, "gym-a")
    neighbour = talk(tools_cloud, "gym-a", "Marc")  # another kiosk of the same gym

    never = me.call("get_opening_hours", session=uuid.uuid4())
    assert never.status_code == 404
    assert never.json()["error"]["code"] == "session_not_found"
    other_kiosk = me.call("get_opening_hours", session=neighbour.session, member=neighbour.member)
    assert other_kiosk.status_code == 404
    assert other_kiosk.json()["error"]["code"] == "session_not_found"
    someone_else = me.with_member("Nina")
    mismatch = me.call("get_opening_hours", member=someone_else.member)
    assert mismatch.status_code == 409
    assert mismatch.json()["error"]["code"] == "session_member_mismatch"

    tools_cloud.sql(
        "update voice_session_starts set requested_at = now() - interval '3 hours' "
        f"where id = {MADE}",
        (someone_else.session,),
    )
    stale = someone_else.call("get_opening_hours")
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "session_expired"

    tools_cloud.sql(
        "update kiosk_credentials set revoked_at = now() where kiosk_id = %s",
        (neighbour.kiosk["kiosk_id"],),
    )
    assert neighbour.call("get_opening_hours").status_code == 401


# -- opening hours and ending --------------------------------------------------------------------


def test_opening_hours(tools_cloud: CloudServer) -> None:
    allday = talk(tools_cloud, "gym-allday").ok("get_opening_hours")["output"]
    assert allday["gym"] == "Gym Allday"
    assert allday["open_now"] is True
    assert [d["intervals"] for d in allday["week"]] == [[["00:00", "24:00"]]] * 7
    assert [d["day_name"] for d in allday["week"]][:2] == ["lundi", "mardi"]

    shut = talk(tools_cloud, "gym-shut", "Sam", "en")
    week = shut.ok("get_opening_hours")["output"]
    assert (week["open_now"], week["next_change"]) == (False, None)
    tomorrow = shut.ok("get_opening_hours", day="tomorrow")["output"]["asked"]
    assert tomorrow["closed_all_day"] is True
    assert tomorrow["text"] == "closed"

    # gym-a gives Monday and Sunday only: other days are "not given", not "closed".
    tuesday = talk(tools_cloud, "gym-a").ok("get_opening_hours", day="tuesday")["output"]["asked"]
    assert (tuesday["known"], tuesday["text"]) == (False, "horaires non communiqués")
    monday = talk(tools_cloud, "gym-a").ok("get_opening_hours", day="monday")["output"]["asked"]
    assert monday["intervals"] == [["06:00", "22:00"]]


def test_end_session_marks_it_ended(tools_cloud: CloudServer) -> None:
    me = talk(tools_cloud, "gym-a")
    body = me.ok("end_session", reason="goodbye")
    assert body["end_session"] is True
    row = tools_cloud.sql(
        f"select ended_at, end_reason from voice_session_starts where id = {MADE}", (me.session,)
    )[0]
    assert row["ended_at"] is not None
    assert row["end_reason"] == "goodbye"
    after = me.call("get_opening_hours")
    assert after.status_code == 409
    assert after.json()["error"]["code"] == "session_ended"


# -- classes ----------------------------------------------------------------------------------


def test_class_schedule(tools_cloud: CloudServer) -> None:
    me = talk(tools_cloud, "gym-c")
    yoga = add_class(tools_cloud, "gym-c", "Yoga doux", in_hours=2, capacity=2)
    pump = add_class(tools_cloud, "gym-c", "Body Pump", in_hours=26, capacity=20)
    gone = add_class(tools_cloud, "gym-c", "Yoga passé", in_hours=-1)
    off = add_class(tools_cloud, "gym-c", "Pilates", in_hours=3, status="cancelled")
    far = add_class(tools_cloud, "gym-c", "Yoga lointain", in_hours=24 * 9)
    theirs = add_class(tools_cloud, "gym-b", "Yoga B", in_hours=2)
    me.with_member("Marc").ok("book_class", class_id=str(yoga))
    me.ok("book_class", class_id=str(yoga))

    listed = me.ok("get_class_schedule", day="today", days=7)["output"]["classes"]

    by_id = {c["id"]: c for c in listed}
    assert set(by_id) == {str(yoga), str(pump), str(off)}
    assert str(gone) not in by_id
    assert str(far) not in by_id
    assert str(theirs) not in by_id
    assert by_id[str(yoga)]["spots_left"] == 0
    assert by_id[str(yoga)]["full"] is True
    assert by_id[str(yoga)]["your_booking"]["status"] == "booked"
    assert by_id[str(pump)]["your_booking"] is None
    assert by_id[str(pump)]["spots_left"] == 20
    assert by_id[str(off)]["status"] == "cancelled"
    assert by_id[str(pump)]["coach"] == "Camille"
    named = me.ok("get_class_schedule", day="today", days=7, name="YOGA")["output"]["classes"]
    assert [c["id"] for c in named] == [str(yoga)]


def test_booking_capacity_waitlist_full_and_cancel_promotes(tools_cloud: CloudServer) -> None:
    first = talk(tools_cloud, "gym-a", "Ana")
    second = first.with_member("Ben")
    third = first.with_member("Chloé")
    spin = add_class(tools_cloud, "gym-a", "Spinning", capacity=1, waitlist=1)

    booked = first.ok("book_class", class_id=str(spin))["output"]
    assert booked["status"] == "booked"
    assert booked["class"]["spots_left"] == 0
    row = tools_cloud.sql(
        f"select status, kiosk_id, session_id = {MADE} as ours from class_bookings where id = %s",
        (first.session, booked["booking_id"]),
    )[0]
    assert (row["status"], str(row["kiosk_id"]), row["ours"]) == (
        "booked",
        first.kiosk["kiosk_id"],
        True,
    )
    audit = tools_cloud.sql(
        "select actor_type from audit_log where action = 'class.booked' and target_id = %s",
        (booked["booking_id"],),
    )
    assert audit == [{"actor_type": "kiosk"}]
    assert first.refused("book_class", class_id=str(spin)).startswith(
        "Vous êtes déjà inscrit au cours Spinning de "
    )

    waiting = second.ok("book_class", class_id=str(spin))["output"]
    assert (waiting["status"], waiting["waitlist_position"]) == ("waitlisted", 1)
    assert "est complet, liste d'attente comprise" in third.refused(
        "book_class", class_id=str(spin)
    )
    assert bookings(tools_cloud, spin) == {first.member: "booked", second.member: "waitlisted"}

    # Only your own booking can be cancelled.
    assert third.refused("cancel_booking", booking_id=booked["booking_id"]) == (
        "Cette réservation n'est pas à votre nom ; je ne peux annuler que les vôtres."
    )
    cancelled = first.ok("cancel_booking", class_id=str(spin))["output"]
    assert cancelled["was"] == "booked"
    assert cancelled["waitlist_member_promoted"] is True
    assert bookings(tools_cloud, spin) == {first.member: "cancelled", second.member: "booked"}
    assert (
        first.refused("cancel_booking", class_id=str(spin)) == "Cette réservation est déjà annulée."
    )
    assert third.refused("cancel_booking", class_id=str(spin)).startswith(
        "Je ne trouve pas de réservation"
    )
    # A cancelled booking can be made again: the waitlist is free now.
    assert first.ok("book_class", class_id=str(spin))["output"]["status"] == "waitlisted"


def test_booking_refusals(tools_cloud: CloudServer) -> None:
    me = talk(tools_cloud, "gym-a", "Sam", "en")
    off = add_class(tools_cloud, "gym-a", "Pilates", status="cancelled")
    assert me.refused("book_class", class_id=str(off)).startswith("The Pilates class at ")
    assert "has been cancelled" in me.refused("book_class", class_id=str(off))
    begun = add_class(tools_cloud, "gym-a", "Boxing", in_hours=-0.2)
    assert "has already started" in me.refused("book_class", class_id=str(begun))
    assert me.refused("book_class", class_id=str(uuid.uuid4())) == (
        "I can't find that class in the gym's schedule. Let's look at the schedule together."
    )
    # A booking whose class has started cannot be cancelled any more.
    soon = add_class(tools_cloud, "gym-a", "Circuit")
    me.ok("book_class", class_id=str(soon))
    tools_cloud.sql(
        "update classes set starts_at = now() - interval '5 minutes' where id = %s", (soon,)
    )
    assert "has already started" in me.refused("cancel_booking", class_id=str(soon))
    assert bookings(tools_cloud, soon) == {me.member: "booked"}


def test_concurrent_bookings_never_exceed_capacity(tools_cloud: CloudServer) -> None:
    host = talk(tools_cloud, "gym-a", "Host")
    racers = [host.with_member(f"Racer {i}") for i in range(6)]
    hot = add_class(tools_cloud, "gym-a", "Hot yoga", capacity=2, waitlist=1)
    barrier = threading.Barrier(len(racers))
    outcomes: list[str] = []

    def book(racer: Talk) -> None:
        barrier.wait()
        body = racer.call("book_class", class_id=str(hot)).json()
        outcomes.append(body["output"]["status"] if body["ok"] else "full")

    threads = [threading.Thread(target=book, args=(r,)) for r in racers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["booked", "booked", "full", "full", "full", "waitlisted"]
    assert sorted(bookings(tools_cloud, hot).values()) == ["booked", "booked", "waitlisted"]


# -- staff alerts -------------------------------------------------------------------------------


def test_equipment_issue_creates_one_alert_for_the_gym(tools_cloud: CloudServer) -> None:
    me = talk(tools_cloud, "gym-a", "Inès")
    args = {
        "equipment": "tapis de course 3",
        "problem": "La bande s'arrête toute seule.",
        "location": "zone cardio",
        "severity": "high",
    }

    first = me.ok("report_equipment_issue", **args)["output"]
    again = me.ok("report_equipment_issue", **args)["output"]

    assert again["alert_id"] == first["alert_id"]
    assert again["already_reported"] is True
    rows = tools_cloud.sql(
        "select a.*, g.slug, private.gym_record_id(a.gym_id, %s)::text as session "
        "from manager_alerts a join gyms g on g.id = a.gym_id where a.kiosk_id = %s",
        (me.session, me.kiosk["kiosk_id"]),
    )
    assert len(rows) == 1
    alert = rows[0]
    assert (alert["slug"], alert["alert_type"], alert["priority"], alert["status"]) == (
        "gym-a",
        "equipment_issue",
        "high",
        "pending",
    )
    assert alert["title"] == "Équipement signalé : tapis de course 3"
    assert alert["member_id"] == me.member
    assert "La bande s'arrête toute seule." in alert["description"]
    assert "zone cardio" in alert["description"]
    assert "Inès" in alert["description"]
    assert alert["context"]["session_id"] == alert["session"]  # as stored, for the gym
    assert (
        tools_cloud.sql(
            "select count(*) as n from audit_log where action = 'alert.raised' and target_id = %s",
            (first["alert_id"],),
        )[0]["n"]
        == 1
    )
    assert "'equipment'" in me.refused("report_equipment_issue", equipment="", problem="cassé")


def test_escalation_to_staff(tools_cloud: CloudServer) -> None:
    me = talk(tools_cloud, "gym-c", "Hugo")
    out = me.ok(
        "escalate_to_staff", reason="Il s'est fait mal au dos sur le rameur.", urgency="urgent"
    )["output"]
    alert = tools_cloud.sql("select * from manager_alerts where id = %s", (out["alert_id"],))[0]
    assert (alert["alert_type"], alert["priority"]) == ("staff_escalation", "urgent")
    assert alert["title"] == "Hugo demande à parler à quelqu'un"
    assert alert["description"].startswith("Il s'est fait mal au dos sur le rameur.")
    assert "'urgency'" in me.refused("escalate_to_staff", reason="help", urgency="now")


# -- progress and goals -------------------------------------------------------------------------


def test_progress(tools_cloud: CloudServer) -> None:
    me = talk(tools_cloud, "gym-c", "Léo")
    set_profile(
        tools_cloud,
        me.member,
        fitness_level="beginner",
        primary_goals=["weight_loss"],
        current_weight_kg=90,
        target_weight_kg=80,
        workout_frequency_per_week=3,
    )
    upcoming = add_class(tools_cloud, "gym-c", "Stretching", in_hours=5)
    past = add_class(tools_cloud, "gym-c", "Yoga d'hier", in_hours=1)
    me.ok("book_class", class_id=str(upcoming))
    me.ok("book_class", class_id=str(past))
    tools_cloud.sql(
        "update classes set starts_at = now() - interval '1 day' where id = %s", (past,)
    )

    out = me.ok("get_member_progress")["output"]

    assert out["goals"] == ["weight_loss"]
    assert out["goal_labels"] == ["perte de poids"]
    assert out["fitness_level"] == "débutant"
    assert (out["current_weight_kg"], out["target_weight_kg"], out["kg_to_target"]) == (90, 80, 10)
    assert out["workouts_per_week_target"] == 3
    assert out["classes_attended_last_30_days"] == 1
    assert [b["class"] for b in out["upcoming_bookings"]] == ["Stretching"]


def test_update_fitness_goal(tools_cloud: CloudServer) -> None:
    me = talk(tools_cloud, "gym-c", "Mia", "en")
    set_profile(
        tools_cloud,
        me.member,
        primary_goals=["weight_loss", "flexibility"],
        current_weight_kg=70,
        target_weight_kg=65,
        workout_frequency_per_week=2,
    )

    out = me.ok(
        "update_fitness_goal",
        add_goals=["endurance"],
        remove_goals=["weight_loss"],
        target_weight_kg=68,
        workout_frequency_per_week=4,
    )["output"]

    assert out["goals"] == ["flexibility", "endurance"]
    assert out["goals_before"] == ["weight_loss", "flexibility"]
    profile = tools_cloud.sql(
        "select primary_goals, target_weight_kg, workout_frequency_per_week "
        "from member_fitness_profile where member_id = %s",
        (me.member,),
    )[0]
    assert profile == {
        "primary_goals": ["flexibility", "endurance"],
        "target_weight_kg": 68,
        "workout_frequency_per_week": 4,
    }
    audit = tools_cloud.sql(
        "select details from audit_log where action = 'member.goals_updated' and target_id = %s",
        (str(me.member),),
    )
    assert len(audit) == 1
    assert audit[0]["details"]["before"]["primary_goals"] == ["weight_loss", "flexibility"]

    # Errors change nothing.
    assert "'add_goals.0'" in me.refused("update_fitness_goal", add_goals=["swimming"])
    assert me.refused("update_fitness_goal").startswith("Tell me what you would like to change")
    assert "'target_weight_kg'" in me.refused("update_fitness_goal", target_weight_kg=900)
    assert tools_cloud.sql(
        "select primary_goals from member_fitness_profile where member_id = %s", (me.member,)
    )[0]["primary_goals"] == ["flexibility", "endurance"]

    # A member with no profile yet gets one.
    newcomer = me.with_member("Noa", "en")
    assert newcomer.ok("update_fitness_goal", add_goals=["muscle_gain"])["output"]["goals"] == [
        "muscle_gain"
    ]


# -- knowledge ----------------------------------------------------------------------------------


def seed(cloud: CloudServer, gym: str, language: str) -> None:
    gym_id = cloud.sql("select id from gyms where slug = %s", (gym,))[0]["id"]
    with psycopg.connect(cloud.admin_url) as conn:
        seed_knowledge(conn, gym_id, language)


def test_knowledge_search_local_embeddings(tools_cloud: CloudServer) -> None:
    seed(tools_cloud, "gym-a", "fr")
    seed(tools_cloud, "gym-a", "fr")  # idempotent
    tools_cloud.sql(
        "insert into knowledge_documents (gym_id, title, body, language, embedding, "
        "embedding_model) select id, 'Sauna', 'Le sauna privé est au sous-sol.', 'fr', "
        "%s::extensions.vector, 'local-hash-v1' from gyms where slug = 'gym-b'",
        (pgvector(local_embedding("Sauna. Le sauna privé est au sous-sol.")),),
    )
    me = talk(tools_cloud, "gym-a")
    assert (
        tools_cloud.sql(
            "select count(*) as n from knowledge_documents d join gyms g "
            "on g.id = d.gym_id where g.slug = 'gym-a'"
        )[0]["n"]
        == 7
    )

    cases = {
        "Est-ce qu'il y a des douches ?": "Vestiaires et douches",
        "Où est-ce que je peux me garer ?": "Parking et accès",
        "C'est quoi le mot de passe du wifi ?": "Wi-Fi",
        "Combien coûte l'abonnement étudiant ?": "Tarifs et abonnements",
        "Je dois prendre une serviette ?": "Serviette et règles d'hygiène",
    }
    for question, title in cases.items():
        results = me.ok("search_gym_knowledge", query=question)["output"]["results"]
        assert results, question
        assert results[0]["title"] == title, (question, results)

    # Gym B's sauna is not gym A's knowledge.
    nothing = me.ok("search_gym_knowledge", query="sauna privé")["output"]
    assert nothing["results"] == []
    assert "offer to ask staff" in nothing["note"]
    found = talk(tools_cloud, "gym-b").ok("search_gym_knowledge", query="sauna privé")
    assert found["output"]["results"][0]["title"] == "Sauna"


def test_knowledge_search_openai_embeddings_and_timeout(
    tools_cloud: CloudServer, openai_peer: tuple[ServerThread, Embeddings]
) -> None:
    seen = len(openai_peer[1].requests)
    gym_id = tools_cloud.sql("select id from gyms where slug = 'gym-allday'")[0]["id"]
    with psycopg.connect(tools_cloud.admin_url) as conn:
        seed_knowledge(conn, gym_id, "fr", embedder=document_embedder(tools_cloud.settings))
    stored = tools_cloud.sql(
        "select distinct embedding_model from knowledge_documents where gym_id = %s", (gym_id,)
    )
    assert stored == [{"embedding_model": "text-embedding-3-small"}]
    me = talk(tools_cloud, "gym-allday")

    results = me.ok("search_gym_knowledge", query="mot de passe du wifi")["output"]["results"]

    assert results[0]["title"] == "Wi-Fi"
    asked = openai_peer[1].requests[seen:]
    assert [(r["model"], len(r["input"]), r["dimensions"]) for r in asked] == [
        ("text-embedding-3-small", 7, 1536),  # the documents, when seeded
        ("text-embedding-3-small", 1, 1536),  # the question
    ]
    assert asked[1]["input"] == ["mot de passe du wifi"]
    slow = me.refused("search_gym_knowledge", query=f"parking {SLOW_WORD}")
    assert slow == "Cela prend trop de temps, je n'ai pas pu terminer. Réessayons dans un instant."


def test_seeded_classes_can_be_listed_and_booked(tools_cloud: CloudServer) -> None:
    gym_id = tools_cloud.sql("select id from gyms where slug = 'gym-shut'")[0]["id"]
    with psycopg.connect(tools_cloud.admin_url) as conn:
        created = seed_classes(conn, gym_id, days=7)
        assert seed_classes(conn, gym_id, days=7) == 0  # idempotent
    assert created >= 10
    me = talk(tools_cloud, "gym-shut", "Sam", "en")
    listed = me.ok("get_class_schedule", day="today", days=7)["output"]["classes"]
    assert listed
    assert {c["name"] for c in listed} <= {"Yoga", "Spinning", "Body Pump", "Pilates", "Stretching"}
    assert me.ok("book_class", class_id=listed[-1]["id"])["output"]["status"] == "booked"


# -- isolation: gym A's kiosk with gym B's real ids ---------------------------------------------


def test_gym_b_ids_through_every_tool_change_nothing(tools_cloud: CloudServer) -> None:
    theirs = talk(tools_cloud, "gym-b", "Bea")
    their_class = add_class(tools_cloud, "gym-b", "Zumba B", capacity=5)
    their_booking = theirs.ok("book_class", class_id=str(their_class))["output"]["booking_id"]
    set_profile(tools_cloud, theirs.member, primary_goals=["endurance"], target_weight_kg=60)
    mine = talk(tools_cloud, "gym-a", "Ana")
    before = gym_state(tools_cloud, "gym-b")
    example = {
        "get_opening_hours": {},
        "get_class_schedule": {"days": 7},
        "book_class": {"class_id": str(their_class)},
        "cancel_booking": {"booking_id": their_booking},
        "report_equipment_issue": {"equipment": "rameur", "problem": "cassé"},
        "get_member_progress": {},
        "update_fitness_goal": {"add_goals": ["muscle_gain"], "target_weight_kg": 99},
        "escalate_to_staff": {"reason": "test"},
        "search_gym_knowledge": {"query": "sauna"},
        "end_session": {},
    }
    for name, arguments in example.items():
        # Their member in their session, through my kiosk.
        both = mine.call(name, member=theirs.member, session=theirs.session, **arguments)
        assert both.status_code == 404, (name, both.text)
        assert both.json()["error"]["code"] == "member_not_found"
        # My member, their session.
        session = mine.call(name, session=theirs.session, **arguments)
        assert session.status_code == 404, (name, session.text)
        assert session.json()["error"]["code"] == "session_not_found"
        # Their member, my session.
        member = mine.call(name, member=theirs.member, **arguments)
        assert member.status_code == 404, (name, member.text)

    # My member and session, their class and booking ids: they do not exist for me.
    assert mine.refused("book_class", class_id=str(their_class)).startswith(
        "Je ne trouve pas ce cours"
    )
    assert mine.refused("cancel_booking", booking_id=their_booking).startswith(
        "Je ne trouve pas de réservation"
    )
    assert mine.refused("cancel_booking", class_id=str(their_class)).startswith(
        "Je ne trouve pas de réservation"
    )
    listed = mine.ok("get_class_schedule", days=7)["output"]["classes"]
    assert str(their_class) not in {c["id"] for c in listed}
    assert gym_state(tools_cloud, "gym-b") == before
