"""The cloud's config reaches the conversations the agent will start."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from contract.kiosk_api import KioskConfig
from kiosk_agent.app import KioskAgent
from kiosk_agent.config import load_settings


class RecordingFactory:
    """A conversation factory that only records the configs it is given."""

    def __init__(self) -> None:
        self.configs: list[KioskConfig] = []

    def __call__(self, session_id: UUID, member: Any, tools: Any) -> Any:
        raise AssertionError("no conversation is started in this test")

    def apply_config(self, config: KioskConfig) -> None:
        self.configs.append(config)

    async def aclose(self) -> None:
        pass

    def level(self) -> float | None:
        """No microphone: the screen's level meter reads nothing."""
        return None


async def test_cloud_limits_reach_the_conversation_factory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "kiosk.env").write_text("")
    monkeypatch.setenv("JARVIS_KIOSK_CONFIG", str(tmp_path / "kiosk.env"))
    monkeypatch.setenv("JARVIS_KIOSK_STATE_DIR", str(tmp_path / "state"))
    factory = RecordingFactory()
    agent = KioskAgent(load_settings().settings, conversation_factory=factory)
    await agent.store.open()
    try:
        config = KioskConfig(idle_timeout_s=42, max_session_s=120)
        await agent.apply_config(config)
    finally:
        await agent.store.close()
    assert factory.configs == [config]
