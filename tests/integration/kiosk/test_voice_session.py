"""The whole path with a real conversation: badge → the cloud starts a voice session against
the project's OpenAI Realtime simulator → the kiosk talks (file audio, no sound card) → a new
badge ends it politely → the session record reaches the cloud with its transcript; and a
session cut by shutdown is written before the agent exits and uploaded after it restarts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser import SCREENSHOTS, chromium
from tests.cloud_server import CloudServer
from tests.conftest import PostgresServer
from tests.integration.kiosk.kiosk_home import (
    AgentProcess,
    KioskHome,
    cloud_with,
    simulator_process,
    wait_for,
)
from tests.integration.realtime.kiosk_audio import member_speech, silence, write_wav

ORG_KEY = "sk-simulator-organisation-key"


@pytest.fixture(scope="module")
def simulator() -> Iterator[str]:
    with simulator_process(ORG_KEY) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def voice_cloud(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory, simulator: str
) -> Iterator[CloudServer]:
    """A cloud with voice configured against the simulator."""
    folder = tmp_path_factory.mktemp("voice-cloud")
    settings = {"openai_api_key": ORG_KEY, "openai_base_url": simulator}
    with cloud_with(postgres, folder, "gym-v", **settings) as server:
        yield server


def member_at_the_microphone(path: Path) -> Path:
    """What the kiosk's microphone hears, on a loop: a member asking a question every few
    seconds (espeak-ng's voice, or a synthetic one without it), silence in between."""
    pcm = silence(1000) + member_speech("Quels sont mes cours cette semaine ?") + silence(5000)
    return write_wav(path, pcm)


def talking_kiosk(tmp_path: Path, speed: float, **extra: str) -> KioskHome:
    """A kiosk whose microphone is a member asking, on a loop, at ``speed`` times real time."""
    return KioskHome(
        tmp_path / "kiosk",
        extra={
            "JARVIS_KIOSK_AUDIO__BACKEND": "file",
            "JARVIS_KIOSK_AUDIO__INPUT_WAV": str(member_at_the_microphone(tmp_path / "mic.wav")),
            "JARVIS_KIOSK_AUDIO__FILE_LOOP": "true",
            "JARVIS_KIOSK_AUDIO__FILE_SPEED": str(speed),
            **extra,
        },
    )


def answered(lines: list[str]) -> bool:
    """The member was heard, and JARVIS said something after that."""
    heard = next((i for i, line in enumerate(lines) if line.endswith(": heard")), None)
    return heard is not None and any(line.endswith(": said") for line in lines[heard:])


def session_of(cloud: CloudServer, member: object) -> dict[str, Any] | None:
    rows = cloud.sql(
        "select id, end_reason, turn_count, model, errors from realtime_sessions "
        "where member_id = %s",
        (member,),
    )
    return rows[0] if rows else None


def started(cloud: CloudServer, member: object) -> bool:
    return bool(
        cloud.sql(
            "select 1 from voice_session_starts where member_id = %s and status = 'started'",
            (member,),
        )
    )


def test_a_member_talks_a_new_badge_ends_it_and_shutdown_keeps_the_record(
    voice_cloud: CloudServer, tmp_path: Path
) -> None:
    alice = voice_cloud.add_member("gym-v", "0A11CE00", "Alice", language="fr")
    bob = voice_cloud.add_member("gym-v", "0B0B0000", "Bob", language="en")
    home = talking_kiosk(tmp_path, speed=3)  # microphone and speaker 3x real time
    home.provision(voice_cloud.base_url, voice_cloud.create_kiosk("gym-v", "Voice"))
    agent = home.start()
    try:
        agent.wait_for_line("reporting to")
        kiosk_id = home.identity().kiosk_id  # type: ignore[union-attr]
        wait_for(  # before anyone taps, the kiosk holds a warm Realtime connection
            lambda: voice_cloud.sql(
                "select 1 from voice_standbys where kiosk_id = %s", (kiosk_id,)
            ),
            what="a standby key for the warm connection",
        )
        agent.wait_for_line("warm Realtime connection is ready")  # connected and configured
        home.tap("0A11CE00")
        wait_for(lambda: started(voice_cloud, alice), what="Alice's voice session to start")
        [start] = voice_cloud.sql(
            "select secret_expires_at from voice_session_starts where member_id = %s", (alice,)
        )
        assert start["secret_expires_at"] is None  # bound on the warm connection: no mint
        agent.wait_for_line("state: in_session")  # the state machine holds the conversation
        wait_for(lambda: answered(agent.lines), what="JARVIS answering Alice's question")
        home.tap("0B0B0000")  # Bob is waiting: Alice's session ends politely
        record = wait_for(lambda: session_of(voice_cloud, alice), what="Alice's session record")
        assert record["end_reason"] == "new_badge"
        assert record["turn_count"] >= 2, record  # her question and JARVIS's answer
        assert record["errors"] == [], record
        assert record["model"].startswith("gpt-realtime")
        wait_for(lambda: started(voice_cloud, bob), what="Bob's voice session to start")
        wait_for(  # Alice was heard: the heartbeat now vouches for the microphone
            lambda: voice_cloud.sql(
                "select 1 from kiosk_heartbeats where kiosk_id = %s and mic_ok", (kiosk_id,)
            ),
            what="a heartbeat with mic_ok",
        )
    finally:
        code = agent.stop()
    assert code == 0, agent.output
    assert "no voice conversation is installed" not in agent.output
    turns = voice_cloud.sql(
        "select role, content from conversation_turns where session_id = %s order by turn_index",
        (record["id"],),
    )
    assert {"user", "assistant"} <= {t["role"] for t in turns}
    assert any(t["content"] for t in turns if t["role"] == "assistant")
    bob_record = session_of(voice_cloud, bob)
    if bob_record is None:  # written before exit, uploaded by the next run
        restarted = home.start()
        try:
            bob_record = wait_for(lambda: session_of(voice_cloud, bob), what="Bob's record")
        finally:
            assert restarted.stop() == 0, restarted.output
    assert bob_record["end_reason"] == "kiosk_shutdown"


def screen_url(agent: AgentProcess) -> str:
    line = agent.wait_for_line("screen on http://")
    return line[line.index("http://") :].strip()


def test_the_screen_follows_a_whole_session_in_a_real_browser(
    voice_cloud: CloudServer, tmp_path: Path
) -> None:
    """An unprovisioned kiosk, then provisioned; a member taps from the page's simulate-badge
    control, JARVIS greets her, hears her and answers; the screen goes back to 'tap'."""
    voice_cloud.add_member("gym-v", "0A11CE10", "Julie", language="fr")
    home = talking_kiosk(tmp_path, speed=2, JARVIS_KIOSK_SCREEN__SIMULATE_BADGE="true")
    code = voice_cloud.create_kiosk("gym-v", "Écran")  # before Playwright runs its own loop
    agent = home.start()
    shots = SCREENSHOTS / "session"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        url = screen_url(agent)
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url)
            expect(page.locator("body")).to_have_attribute("data-mode", "unprovisioned")
            page.screenshot(path=str(shots / "1-unprovisioned.png"))
            home.provision(voice_cloud.base_url, code)
            expect(page.locator("body")).to_have_attribute("data-mode", "tap", timeout=30_000)
            expect(page.locator("#place")).to_contain_text("Écran")
            page.screenshot(path=str(shots / "2-tap.png"))
            page.fill("#badge", "0A11CE10")
            page.click("#badge-button")
            expect(page.locator(".caption.jarvis").first).to_be_visible(timeout=30_000)
            page.screenshot(path=str(shots / "3-greeted.png"))
            expect(page.locator(".caption.member").first).to_be_visible(timeout=60_000)
            page.screenshot(path=str(shots / "4-heard.png"))
            page.wait_for_function(  # the greeting, then the answer to her question
                "document.querySelectorAll('.caption.jarvis').length >= 2", timeout=60_000
            )
            page.screenshot(path=str(shots / "5-answered.png"))
            seen = page.evaluate("window.jarvisModes")
            for mode in ("unprovisioned", "tap", "checking", "listening", "speaking"):
                assert mode in seen, seen
            assert "Julie" in page.evaluate("document.body.innerText") or "welcome" in seen
    finally:
        assert agent.stop() == 0, agent.output
