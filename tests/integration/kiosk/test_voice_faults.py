"""Fault runs end to end, with real processes: `jarvis-kiosk run`, the cloud, and the
project's Realtime simulator as a separate process playing a script with faults.

1. One session meets a network drop halfway through an answer, then a `server_error` with a
   close right after the next question: both questions are answered after reconnecting
   (the member never repeats themselves), the record lists both reconnects with their cause,
   and its cost is the price table applied to every usage the server reported.
2. The cloud's OpenAI key is refused: the kiosk asks once, says and shows the cloud's own
   sentence, files the refusal with its code — and does not call it an outage.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from contract.pricing import MILLION, prices_for, transcription_prices_for
from simulator import Fault, Script, ScriptTurn
from tests.cloud_server import CloudServer
from tests.conftest import PostgresServer
from tests.integration.kiosk.kiosk_home import (
    KioskHome,
    cloud_with,
    simulator_process,
    wait_for,
)
from tests.integration.realtime.kiosk_audio import member_speech, silence, write_wav

ORG_KEY = "sk-simulator-faults-0123456789"
CLOSES = "Ce soir, la salle ferme à vingt-deux heures, comme tous les jours."
YOGA = "Le yoga est le mardi à dix-huit heures."
SCRIPT = Script(
    language="fr",
    greeting="Bonjour !",
    turns=[
        ScriptTurn(
            member="La salle ferme à quelle heure ?", assistant=CLOSES, fault=Fault.DISCONNECT
        ),
        ScriptTurn(member="Et le yoga ?", assistant=YOGA, fault=Fault.SERVER_ERROR),
        ScriptTurn(member="Merci, au revoir !", assistant="Au revoir !"),
    ],
)


@pytest.fixture(scope="module")
def usage_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every usage the simulator reports, one JSON line each."""
    return tmp_path_factory.mktemp("usage") / "usage.jsonl"


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory, usage_log: Path) -> Iterator[str]:
    script = tmp_path_factory.mktemp("faults") / "script.json"
    script.write_text(SCRIPT.model_dump_json())
    args = ("--script", str(script), "--generation-speed", "4", "--usage-log", str(usage_log))
    with simulator_process(ORG_KEY, *args) as url:
        yield url


def billed(usage_log: Path) -> Decimal:
    """The price table applied to each usage the server reported, kind by kind, written
    out here from OpenAI's usage shapes rather than through the kiosk's own accounting."""
    total = Decimal(0)
    for line in usage_log.read_text().splitlines():
        reported = json.loads(line)
        usage, details = reported["usage"], reported["usage"]["input_token_details"]
        if reported["event"] == "response.done":
            p = prices_for(reported["model"])
            cached = details.get("cached_tokens_details") or {}
            text_cached, audio_cached = cached.get("text_tokens", 0), cached.get("audio_tokens", 0)
            output = usage["output_token_details"]
            total += (
                (details["text_tokens"] - text_cached) * p.text_input
                + text_cached * p.text_cached_input
                + (details["audio_tokens"] - audio_cached) * p.audio_input
                + audio_cached * p.audio_cached_input
                + output["text_tokens"] * p.text_output
                + output["audio_tokens"] * p.audio_output
            )
        else:
            t = transcription_prices_for(reported["model"])
            total += (
                details["text_tokens"] * t.text_input
                + details["audio_tokens"] * t.audio_input
                + usage["output_tokens"] * t.text_output
            )
    return total / MILLION


@pytest.fixture(scope="module")
def fault_cloud(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory, simulator: str
) -> Iterator[CloudServer]:
    folder = tmp_path_factory.mktemp("fault-cloud")
    with cloud_with(
        postgres, folder, "gym-f", openai_api_key=ORG_KEY, openai_base_url=simulator
    ) as server:
        yield server


def member_kiosk(tmp_path: Path, **extra: str) -> KioskHome:
    """A member who asks something, waits for the answer, and asks again (on a loop)."""
    wav = write_wav(
        tmp_path / "mic.wav",
        silence(1500) + member_speech("Une question, s'il vous plaît.") + silence(4000),
    )
    return KioskHome(
        tmp_path / "kiosk",
        extra={
            "JARVIS_KIOSK_AUDIO__BACKEND": "file",
            "JARVIS_KIOSK_AUDIO__INPUT_WAV": str(wav),
            "JARVIS_KIOSK_AUDIO__FILE_LOOP": "true",
            "JARVIS_KIOSK_AUDIO__FILE_SPEED": "2",
            **extra,
        },
    )


def record_of(cloud: CloudServer, member: Any) -> dict[str, Any] | None:
    rows = cloud.sql(
        "select id, end_reason, errors, reconnects, reconnect_count, cost_usd "
        "from realtime_sessions "
        "where member_id = %s",
        (member,),
    )
    return rows[0] if rows else None


def test_a_drop_mid_answer_and_a_server_error_after_a_question_lose_no_question(
    fault_cloud: CloudServer, tmp_path: Path, usage_log: Path
) -> None:
    member = fault_cloud.add_member("gym-f", "0FA17001", "Inès", language="fr")
    home = member_kiosk(tmp_path)
    home.provision(fault_cloud.base_url, fault_cloud.create_kiosk("gym-f", "Fautes"))
    agent = home.start()
    try:
        agent.wait_for_line("reporting to")
        home.tap("0FA17001")
        record = wait_for(
            lambda: record_of(fault_cloud, member), timeout=120, what="the session's record"
        )
    finally:
        assert agent.stop() == 0, agent.output
    assert record["end_reason"] == "goodbye", record
    causes = [r["cause"] for r in record["reconnects"]]
    assert record["reconnect_count"] == 2, record
    assert causes[0] == "connection lost"  # the network drop: no close frame
    assert causes[1] == "connection closed (1011: server_error)"
    assert all(r["asked_again"] and r["resumed_after_ms"] is not None for r in record["reconnects"])
    assert [e.split(":")[0] for e in record["errors"]] == ["server_error"]  # the server said so
    turns = fault_cloud.sql(
        "select role, content, interrupted, after_reconnect from conversation_turns "
        "where session_id = %s order by turn_index",
        (record["id"],),
    )
    said = [t["content"] for t in turns if t["role"] == "assistant"]
    heard = [t["content"] for t in turns if t["role"] == "user"]
    assert heard == [turn.member for turn in SCRIPT.turns]
    # Both answers reached the member in full, each on a new connection.
    for answer in (CLOSES, YOGA):
        [full] = [t for t in turns if t["content"] == answer and not t["interrupted"]]
        assert full["after_reconnect"] is True
    assert said[-1] == "Au revoir !"
    # The record's cost is what the usage the server reported costs (to the cloud's 1e-5
    # USD): every response done, on all three connections, and every transcription.
    reported = [json.loads(line)["event"] for line in usage_log.read_text().splitlines()]
    assert reported.count("conversation.item.input_audio_transcription.completed") >= 3
    assert abs(record["cost_usd"] - billed(usage_log)) <= Decimal("0.00001"), record


def test_a_refused_openai_key_is_one_attempt_and_a_clear_message(
    postgres: PostgresServer, simulator: str, tmp_path: Path
) -> None:
    with cloud_with(
        postgres,
        tmp_path / "cloud",
        "gym-k",
        openai_api_key="sk-not-the-right-key-0123",
        openai_base_url=simulator,
    ) as cloud:
        member = cloud.add_member("gym-k", "0FA17002", "Hugo", language="fr")
        home = member_kiosk(tmp_path, JARVIS_KIOSK_SESSION__WARM_CONNECTION="false")
        home.provision(cloud.base_url, cloud.create_kiosk("gym-k", "Clé"))
        agent = home.start()
        try:
            agent.wait_for_line("reporting to")
            home.tap("0FA17002")
            [event] = wait_for(
                lambda: cloud.sql(
                    "select detail from kiosk_events where member_id = %s "
                    "and kind = 'session_refused'",
                    (member,),
                ),
                what="the refusal filed by the kiosk",
            )
            screen = json.loads((home.state_dir / "screen.json").read_text())
            state = agent.lines
        finally:
            assert agent.stop() == 0, agent.output
        starts = cloud.sql(
            "select status, error from voice_session_starts where member_id = %s", (member,)
        )
    assert len(starts) == 1  # one attempt: nothing retried
    assert starts[0]["status"] == "failed"
    assert starts[0]["error"].startswith("openai_key_refused")
    assert event["detail"]["reason"] == "openai_key_refused"
    # Said and shown: the cloud's own sentence for the member.
    assert screen["text"].startswith("JARVIS n'est pas disponible pour le moment")
    log = "\n".join(state)
    assert "it will be retried" not in log
    assert "OpenAI refused the cloud's key" in log
    # Not an outage: the kiosk never says the cloud stopped answering.
    assert "WARNING kiosk_agent.app: the cloud does not answer" not in log
