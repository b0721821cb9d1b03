"""What the kiosk's screen shows, from the agent's moves (sans-I/O)."""

from __future__ import annotations

from kiosk_agent.core.machine_io import AgentState
from kiosk_agent.screen.model import MAX_CAPTIONS, Mode, ScreenModel
from tests.unit.realtime.kiosk_session import JULIE as JULIE_FR

JULIE = JULIE_FR.model_copy(update={"language": "en"})


def test_the_agents_states_and_a_session_as_the_member_sees_them() -> None:
    screen = ScreenModel(language="fr", clock=lambda: 100.0)
    screen.agent_state(AgentState.UNPROVISIONED)
    assert screen.snapshot()["mode"] == "unprovisioned"
    screen.agent_state(AgentState.IDLE)
    assert (screen.mode, screen.snapshot()["language"]) == (Mode.TAP, "fr")
    screen.agent_state(AgentState.MEMBER_CHECK)
    screen.serving(JULIE)
    screen.agent_state(AgentState.STARTING_SESSION)
    shown = screen.snapshot()
    assert (shown["mode"], shown["member"], shown["language"]) == ("welcome", "Julie", "en")
    screen.agent_state(AgentState.IN_SESSION)
    screen.conversation("speaking")
    screen.conversation("saying", "Hello")
    screen.conversation("saying", "Hello Julie")
    screen.conversation("said", "Hello Julie, how can I help?")
    screen.conversation("listening")
    screen.conversation("hearing", "When does")
    screen.conversation("heard", "When does the gym close?")
    assert screen.snapshot()["captions"] == [
        {"role": "jarvis", "text": "Hello Julie, how can I help?", "final": True},
        {"role": "member", "text": "When does the gym close?", "final": True},
    ]
    assert screen.microphone(0.4)
    assert screen.level == 0.4
    screen.conversation("speaking")
    assert not screen.microphone(0.4)  # the meter shows only while JARVIS listens
    screen.agent_state(AgentState.CLOSING)
    assert screen.snapshot()["mode"] == "goodbye"
    before = screen.seq
    screen.agent_state(AgentState.IDLE)
    shown = screen.snapshot()
    assert (shown["mode"], shown["member"], shown["captions"], shown["language"]) == (
        "tap",
        None,
        [],
        "fr",
    )
    assert screen.seq > before


def test_messages_last_until_the_next_tap_and_captions_scroll() -> None:
    screen = ScreenModel(clock=lambda: 7.0)
    screen.agent_state(AgentState.IDLE)
    screen.announce("badge_expired", "Votre abonnement a expiré.", "fr")
    screen.agent_state(AgentState.IDLE)
    assert screen.snapshot()["message"]["text"] == "Votre abonnement a expiré."
    screen.agent_state(AgentState.MEMBER_CHECK)
    assert screen.snapshot()["message"] is None
    for n in range(MAX_CAPTIONS + 3):
        screen.conversation("heard", f"line {n}")
    assert screen.snapshot()["captions"][0]["text"] == "line 3"
    assert len(screen.captions) == MAX_CAPTIONS
