"""Voice session start against a real cloud, real Postgres and the project's Realtime simulator
(the OpenAI endpoint the cloud mints client secrets from), all on 127.0.0.1."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud_api.tools.arguments import parameters_schema
from cloud_api.tools.registry import TOOLS, realtime_tools
from simulator import Simulator
from tests.cloud_server import MADE, CloudServer, ServerThread, add_standard_gyms, free_port
from tests.conftest import PostgresServer
from tests.integration.cloud.voice_peers import (
    ORG_KEY,
    VOICE_START,
    badge,
    kiosk_headers,
    set_profile,
    simulator_app,
    start,
)


def add_summary(
    cloud: CloudServer,
    kiosk_id: Any,
    member_id: Any,
    *,
    days_ago: float,
    text: str,
    status: str = "done",
    cost: float = 0.0,
) -> uuid.UUID:
    """A stored session of `days_ago` (its trigger files a pending summary) and its summary."""
    session_id = uuid.uuid4()
    cloud.sql(
        "insert into realtime_sessions (id, gym_id, kiosk_id, member_id, started_at, "
        "ended_at, cost_usd) select %s, gym_id, id, %s, now() - %s * interval '1 day', "
        "now() - %s * interval '1 day' + interval '2 minutes', %s from kiosks where id = %s",
        (session_id, member_id, days_ago, days_ago, cost, kiosk_id),
    )
    cloud.sql(
        "update conversation_summaries set status = %s, summary_text = %s, "
        "key_topics = '{planning}' where session_id = %s",
        (status, text, session_id),
    )
    return session_id


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def simulator() -> Iterator[tuple[Simulator, ServerThread]]:
    sim, app = simulator_app()
    with ServerThread(app) as server:
        yield sim, server


@pytest.fixture(scope="module")
def voice_cloud(
    postgres: PostgresServer,
    tmp_path_factory: pytest.TempPathFactory,
    simulator: tuple[Simulator, ServerThread],
) -> Iterator[CloudServer]:
    admin = postgres.create_database("voice")
    server = CloudServer(
        admin,
        postgres.api_url(admin),
        tmp_path_factory.mktemp("voice"),
        openai_api_key=ORG_KEY,
        openai_base_url=f"{simulator[1].base_url}/v1",
        voice_sessions_per_member_per_hour=3,
        voice_daily_budget_usd=10,
    )
    add_standard_gyms(server)
    server.add_gym("gym-budget")
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- configuration content -------------------------------------------------------------------


def test_french_member_config_profile_hours_memory_tools_voice(
    voice_cloud: CloudServer, simulator: tuple[Simulator, ServerThread]
) -> None:
    claim, headers = kiosk_headers(voice_cloud, "gym-a")
    voice_cloud.sql(
        "update kiosks set voice_model = 'verse', openai_model = 'gpt-realtime' where id = %s",
        (claim["kiosk_id"],),
    )
    voice_cloud.sql(
        "update gyms set opening_hours = %s where slug = 'gym-a'",
        (
            json.dumps(
                {
                    "mon": [["06:00", "22:00"]],
                    "tue": [["06:00", "22:00"]],
                    "wed": [["06:00", "22:00"]],
                    "thu": [["06:00", "22:00"]],
                    "fri": [["06:00", "21:00"]],
                    "sat": [["09:00", "18:00"]],
                    "sun": [],
                }
            ),
        ),
    )
    member = voice_cloud.add_member("gym-a", badge(), "Léa", language="fr")
    voice_cloud.sql(
        "update member_preferences set communication_style = 'direct' where member_id = %s",
        (member,),
    )
    set_profile(
        voice_cloud,
        member,
        fitness_level="intermediate",
        primary_goals=["weight_loss", "endurance"],
        current_weight_kg=82,
        target_weight_kg=75,
        workout_frequency_per_week=3,
        injuries="genou gauche fragile",
    )
    other = voice_cloud.add_member("gym-a", badge(), "Marc")
    kiosk = claim["kiosk_id"]
    add_summary(voice_cloud, kiosk, member, days_ago=20, text="Oldest: asked about the sauna.")
    add_summary(voice_cloud, kiosk, member, days_ago=9, text="A parlé de son genou, séance légère.")
    add_summary(voice_cloud, kiosk, member, days_ago=5, text="A réservé un cours de yoga.")
    add_summary(voice_cloud, kiosk, member, days_ago=2, text="Veut courir un 10 km en juin.")
    add_summary(voice_cloud, kiosk, member, days_ago=1, text="Not processed yet.", status="pending")
    add_summary(voice_cloud, kiosk, other, days_ago=1, text="Marc's private conversation.")
    minted_before = len(simulator[0].secrets)

    session_id = uuid.uuid4()
    response = start(voice_cloud, headers, member, session_id)

    assert response.status_code == 200, response.text
    body = response.json()
    assert ORG_KEY not in response.text
    assert body["client_secret"].startswith("ek_")
    assert body["model"] == "gpt-realtime"
    port = simulator[1].port
    assert body["realtime_url"] == f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime"
    expires = datetime.fromisoformat(body["expires_at"])
    assert 500 < (expires - datetime.now(UTC)).total_seconds() <= 600

    session = body["session"]
    text = session["instructions"]
    assert text.startswith("Tu es JARVIS, l'assistant vocal de la salle de sport Gym A.")
    assert "réponds toujours en français" in text
    assert "Léa" in text
    assert "direct : va droit au but" in text
    assert "niveau : intermédiaire" in text
    assert "objectifs : perte de poids, endurance" in text
    assert "poids actuel : 82 kg ; poids visé : 75 kg" in text
    assert "séances visées : 3 par semaine" in text
    assert "genou gauche fragile" in text
    assert "lundi : 06:00–22:00" in text
    assert "samedi : 09:00–18:00" in text
    assert "dimanche : fermé" in text
    # Memory: the three newest processed conversations of this member, newest first.
    recalled = [
        "Veut courir un 10 km en juin.",
        "A réservé un cours de yoga.",
        "A parlé de son genou, séance légère.",
    ]
    positions = [text.index(line) for line in recalled]
    assert positions == sorted(positions)
    for absent in ("Oldest: asked about the sauna.", "Not processed yet.", "Marc's private"):
        assert absent not in text

    assert session["type"] == "realtime"
    assert session["output_modalities"] == ["audio"]
    assert session["audio"]["output"] == {
        "format": {"type": "audio/pcm", "rate": 24000},
        "voice": "verse",
    }
    audio_in = session["audio"]["input"]
    assert audio_in["format"] == {"type": "audio/pcm", "rate": 24000}
    assert audio_in["noise_reduction"] == {"type": "far_field"}
    assert audio_in["transcription"]["language"] == "fr"
    assert audio_in["turn_detection"]["type"] == "server_vad"
    assert audio_in["turn_detection"]["threshold"] == 0.6
    assert audio_in["turn_detection"]["silence_duration_ms"] == 650
    # Tools: every tool, with exactly its argument model's schema.
    assert session["tools"] == realtime_tools()
    assert {t["name"] for t in session["tools"]} == set(TOOLS)
    for advertised in session["tools"]:
        assert advertised["parameters"] == parameters_schema(TOOLS[advertised["name"]].arguments)

    # What the OpenAI endpoint received: this session, for this model, under the org key.
    assert len(simulator[0].secrets) == minted_before + 1
    secret, expired = simulator[0].secrets.find(body["client_secret"])
    assert secret is not None
    assert not expired
    assert secret.model == "gpt-realtime"
    assert secret.session["instructions"] == text
    assert secret.session["audio"]["output"]["voice"] == "verse"

    row = voice_cloud.sql(
        "select status, kiosk_id, member_id, secret_expires_at from "
        f"voice_session_starts where id = {MADE}",
        (session_id,),
    )[0]
    assert (row["status"], str(row["kiosk_id"]), row["member_id"]) == ("started", kiosk, member)
    audit = voice_cloud.sql(
        "select actor_type, details from audit_log where action = "
        f"'voice.session_started' and target_id = ({MADE})::text",
        (session_id,),
    )
    assert len(audit) == 1
    assert audit[0]["actor_type"] == "kiosk"
    assert audit[0]["details"]["memory_conversations"] == 3
    assert body["client_secret"] not in json.dumps(audit[0]["details"])


def test_english_member_config(voice_cloud: CloudServer) -> None:
    _, headers = kiosk_headers(voice_cloud, "gym-a")
    member = voice_cloud.add_member("gym-a", badge(), "Sam", language="en")
    set_profile(
        voice_cloud,
        member,
        fitness_level="beginner",
        primary_goals=["muscle_gain"],
        target_weight_kg=70,
    )

    response = start(voice_cloud, headers, member)

    assert response.status_code == 200, response.text
    session = response.json()["session"]
    text = session["instructions"]
    assert text.startswith("You are JARVIS, the voice assistant of the gym Gym A.")
    assert "always answer in English" in text
    assert "Tone: friendly and warm" in text
    assert "- level: beginner" in text
    assert "- goals: muscle gain" in text
    assert "- target weight: 70 kg" in text
    assert "Monday: 06:00–22:00" in text
    assert "This is your first recorded conversation with Sam." in text
    assert "Tu es" not in text
    assert "français" not in text
    assert session["audio"]["input"]["transcription"]["language"] == "en"
    assert session["audio"]["output"]["voice"] == "alloy"  # the kiosk row's default
    assert response.json()["model"] == "gpt-realtime-mini"


def test_member_of_another_language_gets_english_instructions_to_speak_theirs(
    voice_cloud: CloudServer,
) -> None:
    _, headers = kiosk_headers(voice_cloud, "gym-a")
    member = voice_cloud.add_member("gym-a", badge(), "Lucía", language="es")
    response = start(voice_cloud, headers, member)
    assert response.status_code == 200, response.text
    session = response.json()["session"]
    assert "always answer in Spanish" in session["instructions"]
    assert session["audio"]["input"]["transcription"]["language"] == "es"


# -- refusals ---------------------------------------------------------------------------------


def test_another_gyms_member_reads_as_not_found(
    voice_cloud: CloudServer, simulator: tuple[Simulator, ServerThread]
) -> None:
    _, headers = kiosk_headers(voice_cloud, "gym-a")
    theirs = voice_cloud.add_member("gym-b", badge(), "Bea", language="en")
    minted_before = len(simulator[0].secrets)
    session_id = uuid.uuid4()

    response = start(voice_cloud, headers, theirs, session_id)

    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "member_not_found"
    assert error["message"].startswith("Je ne trouve pas ce badge")  # the kiosk's language
    assert error["details"]["language"] == "fr"
    assert len(simulator[0].secrets) == minted_before
    assert (
        voice_cloud.sql(f"select 1 from voice_session_starts where id = {MADE}", (session_id,))
        == []
    )


def test_suspended_and_expired_members_are_refused_clearly(voice_cloud: CloudServer) -> None:
    _, headers = kiosk_headers(voice_cloud, "gym-a")
    suspended = voice_cloud.add_member("gym-a", badge(), "Paul", status="suspended")
    expired = voice_cloud.add_member("gym-a", badge(), "Ann", status="expired", language="en")

    refused = start(voice_cloud, headers, suspended)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "member_suspended"
    assert refused.json()["error"]["message"] == (
        "Votre abonnement est suspendu. Passez à l'accueil pour le réactiver."
    )

    refused = start(voice_cloud, headers, expired)
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "membership_expired"
    assert error["message"].startswith("Your membership expired on ")
    assert "front desk" in error["message"]


def test_hourly_limit_per_member_across_kiosks(voice_cloud: CloudServer) -> None:
    _, entrance = kiosk_headers(voice_cloud, "gym-a")
    _, cardio = kiosk_headers(voice_cloud, "gym-a")
    member = voice_cloud.add_member("gym-a", badge(), "Zoé")
    first = uuid.uuid4()
    assert start(voice_cloud, entrance, member, first).status_code == 200
    # The kiosk retrying the same start (a lost answer) mints again but counts once.
    assert start(voice_cloud, entrance, member, first).status_code == 200
    assert start(voice_cloud, cardio, member).status_code == 200
    assert start(voice_cloud, entrance, member).status_code == 200

    refused = start(voice_cloud, cardio, member)

    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "member_session_limit"
    assert error["message"].startswith("Vous avez déjà parlé 3 fois avec JARVIS dans l'heure.")
    retry = int(refused.headers["Retry-After"])
    assert 3500 < retry <= 3600
    assert error["details"]["retry_after_s"] == retry
    # Another member is not affected; and once the oldest start leaves the hour, Zoé may again.
    assert (
        start(voice_cloud, cardio, voice_cloud.add_member("gym-a", badge(), "Tom")).status_code
        == 200
    )
    voice_cloud.sql(
        "update voice_session_starts set requested_at = now() - interval '61 minutes' "
        f"where id = {MADE}",
        (first,),
    )
    assert start(voice_cloud, cardio, member).status_code == 200


def test_daily_budget_per_gym_in_its_timezone(voice_cloud: CloudServer) -> None:
    claim, headers = kiosk_headers(voice_cloud, "gym-budget")
    member = voice_cloud.add_member("gym-budget", badge(), "Ivy", language="en")
    kiosk = claim["kiosk_id"]
    # Yesterday's spend (one minute before local midnight) does not count.
    voice_cloud.sql(
        "insert into realtime_sessions (id, gym_id, kiosk_id, member_id, started_at, cost_usd) "
        "select gen_random_uuid(), g.id, %s, %s, (date_trunc('day', now() at time zone g.timezone) "
        "at time zone g.timezone) - interval '1 minute', 500 from gyms g where g.slug = 'gym-budget'",
        (kiosk, member),
    )
    add_summary(voice_cloud, kiosk, member, days_ago=0, text="today", cost=9.5)
    assert start(voice_cloud, headers, member).status_code == 200  # 9.50 of 10 USD spent

    add_summary(voice_cloud, kiosk, member, days_ago=0, text="today again", cost=0.5)
    refused = start(voice_cloud, headers, member)

    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "daily_budget_exhausted"
    assert error["message"].startswith("JARVIS has reached its usage limit for today")
    assert 0 < int(refused.headers["Retry-After"]) <= 24 * 3600
    # Other gyms have their own budget.
    _, other = kiosk_headers(voice_cloud, "gym-c")
    assert (
        start(voice_cloud, other, voice_cloud.add_member("gym-c", badge(), "Al")).status_code == 200
    )


def standby(cloud: CloudServer, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{cloud.base_url}/api/voice/standby", headers=headers, timeout=30)


def test_a_warm_connection_is_bound_to_the_member_only_by_the_gated_start(
    voice_cloud: CloudServer, simulator: tuple[Simulator, ServerThread]
) -> None:
    claim, headers = kiosk_headers(voice_cloud, "gym-a")
    kiosk = claim["kiosk_id"]
    minted = len(simulator[0].secrets)
    answer = standby(voice_cloud, headers)
    assert answer.status_code == 200, answer.text
    warm = answer.json()
    assert ORG_KEY not in answer.text
    assert warm["client_secret"].startswith("ek_")
    assert 1700 < (datetime.fromisoformat(warm["expires_at"]) - datetime.now(UTC)).seconds <= 1800
    # The standby session knows no member: no instructions about anyone, no tools, no VAD.
    secret, _ = simulator[0].secrets.find(warm["client_secret"])
    assert secret is not None
    assert secret.session["tools"] == []
    assert secret.session["audio"]["input"]["turn_detection"] is None
    assert "say nothing" in secret.session["instructions"]
    assert warm["session"]["audio"]["output"]["voice"] == "alloy"
    assert (
        voice_cloud.sql("select count(*) as n from voice_standbys where kiosk_id = %s", (kiosk,))[
            0
        ]["n"]
        == 1
    )

    member = voice_cloud.add_member("gym-a", badge(), "Noé")
    session_id = uuid.uuid4()
    started = httpx.post(
        f"{voice_cloud.base_url}{VOICE_START}",
        headers=headers,
        json={
            "session_id": str(session_id),
            "member_id": str(member),
            "warm_model": warm["model"],
        },
    )
    assert started.status_code == 200, started.text
    body = started.json()
    assert (body["client_secret"], body["expires_at"]) == (None, None)  # nothing minted
    assert "Noé" in body["session"]["instructions"]
    assert len(simulator[0].secrets) == minted + 1  # only the standby secret
    row = voice_cloud.sql(
        f"select status, secret_expires_at from voice_session_starts where id = {MADE}",
        (session_id,),
    )[0]
    assert (row["status"], row["secret_expires_at"]) == ("started", None)
    # The gate is the same: a suspended member is refused on a warm kiosk too.
    suspended = voice_cloud.add_member("gym-a", badge(), "Ugo", status="suspended")
    refused = httpx.post(
        f"{voice_cloud.base_url}{VOICE_START}",
        headers=headers,
        json={"session_id": str(uuid.uuid4()), "member_id": str(suspended), "warm_model": "x"},
    )
    assert refused.json()["error"]["code"] == "member_suspended"
    # A warm connection of another model does not save the mint.
    other = httpx.post(
        f"{voice_cloud.base_url}{VOICE_START}",
        headers=headers,
        json={
            "session_id": str(uuid.uuid4()),
            "member_id": str(member),
            "warm_model": "gpt-realtime",
        },
    )
    assert other.json()["client_secret"].startswith("ek_")


def test_standby_keys_are_limited_per_kiosk_and_stop_with_the_budget(
    voice_cloud: CloudServer,
) -> None:
    claim, headers = kiosk_headers(voice_cloud, "gym-c")
    kiosk = claim["kiosk_id"]
    voice_cloud.sql(
        "insert into voice_standbys (gym_id, kiosk_id, model, created_at, expires_at) "
        "select gym_id, id, 'gpt-realtime-mini', now() - interval '30 minutes', now() "
        "from kiosks, generate_series(1, 60) where id = %s",
        (kiosk,),
    )
    limited = standby(voice_cloud, headers)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "standby_limit"
    assert 1700 < int(limited.headers["Retry-After"]) <= 1800
    # Another gym's kiosk: its own count; a gym whose budget is spent gets none.
    claim_b, budget_headers = kiosk_headers(voice_cloud, "gym-budget")
    member = voice_cloud.add_member("gym-budget", badge(), "Eve", language="en")
    add_summary(voice_cloud, claim_b["kiosk_id"], member, days_ago=0, text="spent", cost=11)
    spent = standby(voice_cloud, budget_headers)
    assert spent.status_code == 403
    assert spent.json()["error"]["code"] == "daily_budget_exhausted"
    # The limit is per kiosk: another kiosk of the same gym still gets its standby key.
    _, other = kiosk_headers(voice_cloud, "gym-c")
    assert standby(voice_cloud, other).status_code == 200


def test_session_id_of_another_kiosk_is_refused(voice_cloud: CloudServer) -> None:
    _, mine = kiosk_headers(voice_cloud, "gym-a")
    _, neighbour = kiosk_headers(voice_cloud, "gym-a")
    _, elsewhere = kiosk_headers(voice_cloud, "gym-b")
    member_a = voice_cloud.add_member("gym-a", badge(), "Eva")
    other_a = voice_cloud.add_member("gym-a", badge(), "Léo")
    member_b = voice_cloud.add_member("gym-b", badge(), "Bob")
    taken = uuid.uuid4()
    assert start(voice_cloud, neighbour, other_a, taken).status_code == 200

    reused = start(voice_cloud, mine, member_a, taken)
    # Another gym's kiosk has ids of its own: the same id there is a session of its own.
    elsewhere_answer = start(voice_cloud, elsewhere, member_b, taken)

    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "session_id_in_use"
    assert elsewhere_answer.status_code == 200, elsewhere_answer.text
    rows = voice_cloud.sql(
        f"select member_id from voice_session_starts where id = {MADE} order by member_id = %s",
        (taken, member_b),
    )
    assert rows == [{"member_id": other_a}, {"member_id": member_b}]


def test_malformed_request_and_revoked_kiosk(voice_cloud: CloudServer) -> None:
    claim, headers = kiosk_headers(voice_cloud, "gym-a")
    response = httpx.post(
        f"{voice_cloud.base_url}{VOICE_START}", headers=headers, json={"member_id": "not-a-uuid"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_failed"
    voice_cloud.sql(
        "update kiosk_credentials set revoked_at = now() where kiosk_id = %s", (claim["kiosk_id"],)
    )
    member = voice_cloud.add_member("gym-a", badge(), "Rémi")
    assert start(voice_cloud, headers, member).status_code == 401


# -- the OpenAI side failing ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def spare_database(postgres: PostgresServer) -> str:
    admin = postgres.create_database("voicefail")
    seeding = CloudServer(admin, postgres.api_url(admin), Path("/nonexistent"))
    add_standard_gyms(seeding)
    return admin


def failing_cloud(
    postgres: PostgresServer, admin: str, data_dir: Path, **settings: Any
) -> CloudServer:
    server = CloudServer(admin, postgres.api_url(admin), data_dir, **settings)
    server.start()
    return server


def test_no_openai_key_is_a_clear_503(cloud: CloudServer) -> None:
    _, headers = kiosk_headers(cloud, "gym-a")
    member = cloud.add_member("gym-a", badge(), "Noé")
    response = start(cloud, headers, member)
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "voice_not_configured"
    assert error["message"].startswith("JARVIS n'est pas disponible pour le moment.")


def test_refused_org_key_is_503_and_never_echoed(
    postgres: PostgresServer,
    spare_database: str,
    tmp_path: Path,
    simulator: tuple[Simulator, ServerThread],
) -> None:
    wrong = "sk-wrong-" + uuid.uuid4().hex
    server = failing_cloud(
        postgres,
        spare_database,
        tmp_path,
        openai_api_key=wrong,
        openai_base_url=f"{simulator[1].base_url}/v1",
    )
    try:
        _, headers = kiosk_headers(server, "gym-a")
        member = server.add_member("gym-a", badge(), "Kim", language="en")
        session_id = uuid.uuid4()
        response = start(server, headers, member, session_id)
    finally:
        server.stop()
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "openai_key_refused"
    assert error["message"].startswith("JARVIS is not available right now.")
    assert wrong not in response.text
    assert wrong[-8:] not in response.text
    row = server.sql(
        f"select status, error from voice_session_starts where id = {MADE}", (session_id,)
    )
    assert row[0]["status"] == "failed"
    assert wrong not in row[0]["error"]


def test_unreachable_openai_is_503_with_retry_after(
    postgres: PostgresServer, spare_database: str, tmp_path: Path
) -> None:
    server = failing_cloud(
        postgres,
        spare_database,
        tmp_path,
        openai_api_key=ORG_KEY,
        openai_base_url=f"http://127.0.0.1:{free_port()}/v1",
        voice_openai_timeout_s=2,
    )
    try:
        _, headers = kiosk_headers(server, "gym-a")
        member = server.add_member("gym-a", badge(), "Lou")
        first = start(server, headers, member)
        # Failed starts do not count towards the member's hourly limit (3 by default here).
        later = [start(server, headers, member).status_code for _ in range(3)]
    finally:
        server.stop()
    assert first.status_code == 503
    assert first.json()["error"]["code"] == "openai_unreachable"
    assert first.headers["Retry-After"] == "10"
    assert later == [503, 503, 503]
    assert ORG_KEY not in first.text


@pytest.fixture
def started(voice_cloud: CloudServer) -> dict[str, Any]:
    _, headers = kiosk_headers(voice_cloud, "gym-c")
    member = voice_cloud.add_member("gym-c", badge(), "Max", language="en")
    response = start(voice_cloud, headers, member)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_simulator_accepts_the_payload_as_session_update(
    started: dict[str, Any], simulator: tuple[Simulator, ServerThread]
) -> None:
    """The returned `session` is what the kiosk sends in `session.update`: the GA validator
    of the simulator accepts it as is over the WebSocket opened with the minted secret."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(api_key=started["client_secret"], base_url=f"{simulator[1].base_url}/v1")
    event: Any = None
    try:
        async with client.realtime.connect(model=started["model"]) as connection:
            await connection.session.update(session=started["session"])
            async for received in connection:
                if received.type in ("session.updated", "error"):
                    event = received
                    break
    finally:
        await client.close()
    assert event is not None
    assert event.type == "session.updated", event
    assert event.session.instructions == started["session"]["instructions"]
    assert [t.name for t in event.session.tools] == list(TOOLS)
