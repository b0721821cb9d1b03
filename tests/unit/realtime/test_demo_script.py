"""The simulator's demo script and the cloud's voice session fit each other."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud_api.config import CloudSettings
from cloud_api.tools.registry import TOOLS
from cloud_api.voice.session_config import session_payload
from simulator.config import check_session
from simulator.script import DEMO_CONVERSATIONS, DEMO_SCRIPT, Script, ScriptedToolCall
from simulator.server import Simulator, SimulatorSettings

DEMO_TOOLS = [turn.tool for turn in DEMO_SCRIPT.turns if turn.tool is not None]


def test_the_session_the_cloud_builds_is_one_the_simulator_accepts() -> None:
    session = session_payload(
        instructions="Tu es JARVIS.", voice="alloy", language="fr", settings=CloudSettings()
    )
    assert check_session({**session, "model": "gpt-realtime-mini"}) is None


@pytest.mark.parametrize("tool", DEMO_TOOLS, ids=[tool.name for tool in DEMO_TOOLS])
def test_the_demo_calls_the_clouds_own_tools_with_valid_arguments(tool: ScriptedToolCall) -> None:
    assert tool.name in TOOLS
    TOOLS[tool.name].arguments.model_validate(tool.arguments)


def test_a_script_file_round_trips_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "script.json"
    path.write_text(DEMO_SCRIPT.model_dump_json(), encoding="utf-8")
    assert Script.load(path) == DEMO_SCRIPT
    path.write_text('{"turns": [{"member": "hi"}]}', encoding="utf-8")
    with pytest.raises(ValueError, match="assistant"):
        Script.load(path)


def test_the_demo_conversations_play_in_turn_and_an_unused_connection_takes_none() -> None:
    """A kiosk keeps a warm connection open before anyone taps and replaces it when its
    secret ages: a connection never used must not take a conversation from the demo's order
    (the treadmill first, then the unhappy member)."""
    simulator = Simulator(
        SimulatorSettings(
            api_key="sk-test", script=DEMO_CONVERSATIONS[0], more_scripts=DEMO_CONVERSATIONS[1:]
        )
    )
    unused = simulator.next_progress()  # a warm connection replaced before any tap
    first, second = simulator.next_progress(), simulator.next_progress()
    assert first.script is DEMO_CONVERSATIONS[0]
    assert second.script is DEMO_CONVERSATIONS[1]
    assert unused.script is DEMO_CONVERSATIONS[0]  # the order goes round, only when used
