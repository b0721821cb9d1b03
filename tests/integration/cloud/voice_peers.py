"""What the voice and tools tests share: the OpenAI peer (the project's simulator), and a
kiosk's side of voice start."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from starlette.types import ASGIApp

from simulator import Simulator, SimulatorSettings, VoiceKind
from tests.cloud_server import CloudServer

ORG_KEY = "sk-org-" + uuid.uuid4().hex
VOICE_START = "/api/voice/sessions"


def simulator_app(key: str = ORG_KEY) -> tuple[Simulator, ASGIApp]:
    simulator = Simulator(SimulatorSettings(api_key=key, voice=VoiceKind.TONE))
    return simulator, simulator.app()


# -- kiosk-side helpers ----------------------------------------------------------


def kiosk_headers(cloud: CloudServer, gym: str) -> tuple[dict[str, Any], dict[str, str]]:
    claim = cloud.provision(gym)
    return claim, {"Authorization": f"Bearer {cloud.kiosk_token(claim)}"}


def start(
    cloud: CloudServer, headers: dict[str, str], member_id: Any, session_id: Any = None
) -> httpx.Response:
    return httpx.post(
        f"{cloud.base_url}{VOICE_START}",
        headers=headers,
        timeout=30,
        json={"session_id": str(session_id or uuid.uuid4()), "member_id": str(member_id)},
    )


def badge() -> str:
    return uuid.uuid4().hex[:8].upper()


def set_profile(cloud: CloudServer, member_id: Any, **fields: Any) -> None:
    columns = ", ".join(fields)
    placeholders = ", ".join(["%s"] * len(fields))
    updates = ", ".join(f"{c} = excluded.{c}" for c in fields)
    cloud.sql(
        f"insert into member_fitness_profile (member_id, gym_id, {columns}) "
        f"select id, gym_id, {placeholders} from gym_members where id = %s "
        f"on conflict (member_id) do update set {updates}",
        (*fields.values(), member_id),
    )
