"""The argument values the prober sent to JARVIS's tools are refused before any query runs:
the answer is the same whatever session or member the call names."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from contract import kiosk_api as api
from tests.cloud_server import CloudServer


@pytest.mark.parametrize(
    ("tool", "arguments", "field"),
    [
        ("update_fitness_goal", {"target_weight_kg": 1e308}, "target_weight_kg"),
        ("update_fitness_goal", {"workout_frequency_per_week": -5}, "workout_frequency_per_week"),
        ("get_class_schedule", {"days": 1_000_000_000}, "days"),
        ("search_gym_knowledge", {"query": "douches", "limit": 10**6}, "limit"),
        ("get_class_schedule", {"name": "x" * 10_000}, "name"),
    ],
)
def test_out_of_range_arguments_are_refused_before_any_query(
    cloud: CloudServer, tool: str, arguments: dict[str, Any], field: str
) -> None:
    token = cloud.kiosk_token(cloud.provision("gym-a"))
    before = cloud.sql("select count(*) as n from audit_log")[0]
    # Ids that exist nowhere: had the call gone to the database, it would be a 404.
    answer = httpx.post(
        cloud.base_url + api.TOOL_CALL.format(name=tool),
        headers={"Authorization": f"Bearer {token}"},
        json={
            "session_id": str(uuid.uuid4()),
            "member_id": str(uuid.uuid4()),
            "call_id": "call_1",
            "arguments": arguments,
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["ok"] is False
    assert f"'{field}'" in body["error"]
    assert cloud.sql("select count(*) as n from audit_log")[0] == before


def test_non_numbers_are_not_numbers(cloud: CloudServer) -> None:
    token = cloud.kiosk_token(cloud.provision("gym-a"))
    answer = httpx.post(
        cloud.base_url + api.TOOL_CALL.format(name="update_fitness_goal"),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        content=f'{{"session_id": "{uuid.uuid4()}", "member_id": "{uuid.uuid4()}", '
        '"call_id": "c", "arguments": {"target_weight_kg": NaN}}',
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["ok"] is False
