"""The OpenAI analysis path against the project's simulator over real HTTP: structured output
with a strict schema and a token cap, usage and cost recorded, and what happens on a refusal,
a timeout, a server error and an answer that breaks the schema."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cloud_api.jobs.analysis_job import analyze_session
from cloud_api.jobs.runtime import JobRuntime
from cloud_api.pipeline.openai_analyzer import AnalysisUnavailable
from simulator import Simulator, SimulatorSettings, VoiceKind
from tests.cloud_server import ServerThread
from tests.conftest import PostgresServer
from tests.integration.pipeline import world

KEY = "sk-org-" + uuid.uuid4().hex
UNHAPPY = {
    "summary": "Hugo signale que le tapis 3 est encore en panne et il est agacé.",
    "key_topics": ["equipment"],
    "sentiment_score": -0.8,
    "sentiment_label": "negative",
    "emotion": "frustration",
    "intents": ["report_issue", "complaint"],
    "action_items": [{"type": "check_equipment", "detail": "Tapis 3 en panne"}],
}


@pytest.fixture(scope="module")
def simulator() -> Iterator[tuple[Simulator, ServerThread]]:
    sim = Simulator(
        SimulatorSettings(api_key=KEY, voice=VoiceKind.TONE, analysis_answers={"unhappy": UNHAPPY})
    )
    with ServerThread(sim.app()) as server:
        yield sim, server


@pytest.fixture(scope="module")
def db(postgres: PostgresServer) -> tuple[str, world.Gym]:
    admin = postgres.create_database("openai")
    return admin, world.add_gym(admin, "gym-openai")


def analyse(
    postgres: PostgresServer,
    admin: str,
    base_url: str,
    session_id: uuid.UUID,
    *,
    last: bool,
    **overrides: Any,
) -> Any:
    settings = world.worker_settings(
        postgres,
        admin,
        analysis_backend="openai",
        openai_api_key=KEY,
        openai_base_url=f"{base_url}/v1",
        analysis_timeout_s=1,
        **overrides,
    )

    async def run() -> Any:
        runtime = await JobRuntime.open(settings)
        try:
            return await analyze_session(runtime, session_id, attempt=1, last_attempt=last)
        finally:
            await runtime.close()

    return asyncio.run(run())


def summary(admin: str, session_id: uuid.UUID) -> tuple[Any, ...]:
    return world.one(
        admin,
        "select status, analyzer, analysis_model, sentiment_label, input_tokens, output_tokens, "
        "embedding_tokens, cost_usd, embedding_model, attempts, summary_text "
        "from conversation_summaries where session_id = %s",
        (session_id,),
    )


def test_structured_output_is_validated_stored_and_costed(
    postgres: PostgresServer, db: tuple[str, world.Gym], simulator: tuple[Simulator, ServerThread]
) -> None:
    admin, gym = db
    sim, server = simulator
    member = world.add_member(admin, gym, "Hugo")
    session = world.store_session(
        admin, gym, member, ["Le tapis 3 est en panne. [sim:answer=unhappy]"]
    )
    before = len(sim.analysis.requests)
    outcome = analyse(postgres, admin, server.base_url, session, last=False)
    assert (outcome.status, outcome.analyzer) == ("analysed", "openai")
    status, analyzer, model, label, tin, tout, temb, cost, emb_model, attempts, text = summary(
        admin, session
    )
    assert (status, analyzer, model, label) == ("done", "openai", "gpt-4o-mini", "negative")
    assert text == UNHAPPY["summary"]
    assert tin > 0
    assert tout > 0
    assert temb > 0
    assert cost > 0
    assert emb_model == "text-embedding-3-small"
    assert attempts == 1
    chat, embedding = sim.analysis.requests[before : before + 2]
    assert chat["response_format"]["type"] == "json_schema"
    assert chat["response_format"]["json_schema"]["strict"] is True
    assert chat["max_completion_tokens"] == 700
    assert embedding["model"] == "text-embedding-3-small"
    assert embedding["dimensions"] == 1536
    # The chain ran: the member's analytics and a negative-feedback alert.
    assert (
        world.one(
            admin,
            "select total_conversations from member_analytics where member_id = %s",
            (member,),
        )
        == 1
    )
    assert (
        world.one(
            admin,
            "select count(*) from manager_alerts where member_id = %s and alert_type = 'negative_feedback'",
            (member,),
        )
        == 1
    )


@pytest.mark.parametrize("marker", ["[sim:refuse]", "[sim:invalid]"])
def test_a_refusal_or_a_broken_answer_falls_back_to_the_local_analyzer(
    postgres: PostgresServer,
    db: tuple[str, world.Gym],
    simulator: tuple[Simulator, ServerThread],
    marker: str,
) -> None:
    admin, gym = db
    session = world.store_session(
        admin, gym, None, [f"Le tapis 3 est en panne, j'en ai marre. {marker}"]
    )
    outcome = analyse(postgres, admin, simulator[1].base_url, session, last=False)
    assert outcome.analyzer == "local-v1"
    status, analyzer, _, label, tin, *_ = summary(admin, session)
    assert (status, analyzer, label, tin) == ("done", "local-v1", "negative", 0)


@pytest.mark.parametrize("marker", ["[sim:slow=3]", "[sim:error=500]", "[sim:error=429]"])
def test_timeouts_and_server_errors_retry_then_the_last_attempt_analyses_locally(
    postgres: PostgresServer,
    db: tuple[str, world.Gym],
    simulator: tuple[Simulator, ServerThread],
    marker: str,
) -> None:
    admin, gym = db
    session = world.store_session(admin, gym, None, [f"Quels cours ce soir ? {marker}"])
    with pytest.raises(AnalysisUnavailable):
        analyse(postgres, admin, simulator[1].base_url, session, last=False)
    status, analyzer, *_ = summary(admin, session)
    assert (status, analyzer) == ("pending", None)  # nothing lost: the job retries it
    outcome = analyse(postgres, admin, simulator[1].base_url, session, last=True)
    assert outcome.analyzer == "local-v1"
    assert summary(admin, session)[9] == 2  # attempts


def test_the_simulator_is_strict_where_openai_is(simulator: tuple[Simulator, ServerThread]) -> None:
    base = simulator[1].base_url + "/v1/chat/completions"
    headers = {"Authorization": f"Bearer {KEY}"}
    ok = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    assert httpx.post(base, json=ok, headers=headers).status_code == 200
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({**ok, "temperatur": 0}, 400, "Unrecognized request argument supplied: temperatur"),
        ({**ok, "messages": [{"role": "robot", "content": "hi"}]}, 400, "Invalid request"),
        ({**ok, "model": "gpt-nonexistent"}, 404, "does not exist"),
        (
            {
                **ok,
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {
                        "name": "x",
                        "strict": True,
                        "schema": {
                            "type": "object",
                            "properties": {"a": {"type": "string"}},
                            "required": ["a"],
                        },
                    },
                },
            },
            400,
            "'additionalProperties' is required",
        ),
        (
            {
                **ok,
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {
                        "name": "x",
                        "strict": True,
                        "schema": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {"a": {"type": "string", "maxLength": 3}},
                            "required": ["a"],
                        },
                    },
                },
            },
            400,
            "'maxLength' is not permitted",
        ),
    ]
    for body, status, message in cases:
        response = httpx.post(base, json=body, headers=headers)
        assert response.status_code == status, body
        assert message in response.json()["error"]["message"]
    assert (
        httpx.post(base, json=ok, headers={"Authorization": "Bearer sk-wrong"}).status_code == 401
    )
    capped = {
        **ok,
        "max_completion_tokens": 1,
        "messages": [{"role": "user", "content": "x" * 400}],
    }
    assert (
        httpx.post(base, json=capped, headers=headers).json()["choices"][0]["finish_reason"]
        == "length"
    )


def test_weekly_reports_are_written_by_the_model_with_a_key(
    postgres: PostgresServer, db: tuple[str, world.Gym], simulator: tuple[Simulator, ServerThread]
) -> None:
    from cloud_api.jobs import scheduled

    admin, gym = db
    settings = world.worker_settings(
        postgres,
        admin,
        analysis_backend="openai",
        openai_api_key=KEY,
        openai_base_url=f"{simulator[1].base_url}/v1",
    )
    sim = simulator[0]
    before = len(sim.analysis.requests)
    result = world.run_jobs(settings, lambda rt: scheduled.weekly_insights(rt, rt.clock()))
    assert result["written_by_model"] == result["reports"] >= 1
    asked = sim.analysis.requests[before:]
    assert all(r["response_format"]["json_schema"]["strict"] for r in asked)
    recommendations = world.one(
        admin, "select recommendations from insights_reports where gym_id = %s", (gym.id,)
    )
    assert len(recommendations) == 1  # the model's (the simulator answers one)
