"""Property-based fuzzing of the OpenAPI spec (schemathesis): no input ever gets a 5xx.

Runs against the real cloud on 127.0.0.1 for every operation, anonymous and as a provisioned
kiosk (so generated bodies reach the handlers and the database). Hypothesis drives
schemathesis' strategies directly (its pytest plugin lags behind pytest here).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.cloud_server import CloudServer

FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def operations(cloud: CloudServer) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{cloud.base_url}/openapi.json")
    found = [result.ok() for result in schema.get_all_operations()]
    assert len(found) >= 10
    return found


def fuzz(operation: Any, headers: dict[str, str]) -> None:
    @FUZZ
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
        )

    run()


@pytest.mark.parametrize("as_kiosk", [False, True], ids=["anonymous", "kiosk"])
def test_no_input_gets_a_server_error(cloud: CloudServer, as_kiosk: bool) -> None:
    headers = {}
    if as_kiosk:
        cloud.add_member("gym-a", "CAFEBABE", "Fuzz")
        headers = {"Authorization": f"Bearer {cloud.kiosk_token(cloud.provision('gym-a'))}"}
    for operation in operations(cloud):
        fuzz(operation, headers)
