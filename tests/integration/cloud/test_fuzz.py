"""Property-based fuzzing of the OpenAPI spec (schemathesis): the spec and the server agree.

Runs against the real cloud on 127.0.0.1 for every operation, anonymous, as a provisioned
kiosk and as a gym manager (so generated bodies reach the handlers and the database), in both
directions:

* schema-valid requests (positive) are never refused as invalid (no 400/413/422): what the
  spec allows, the server takes;
* schema-violating requests (negative) are never accepted: what the spec forbids is refused
  with a 4xx;
* every answer's status is one the spec documents for that operation, and none is a 5xx.

Hypothesis drives schemathesis' strategies directly (its pytest plugin lags behind pytest).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
    status_code_conformance,
)

from tests.cloud_server import CloudServer, ServerThread, add_standard_gyms
from tests.conftest import PostgresServer
from tests.integration.cloud.voice_peers import ORG_KEY, simulator_app

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 15}


@pytest.fixture(scope="module")
def cloud(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CloudServer]:
    """The standard cloud, with voice configured (an OpenAI key the Realtime simulator
    accepts): a cloud without one answers its voice calls 503 by design, which says nothing
    about the spec."""
    _, app = simulator_app()
    with ServerThread(app) as openai:
        admin = postgres.create_database("fuzz")
        server = CloudServer(
            admin,
            postgres.api_url(admin),
            tmp_path_factory.mktemp("fuzz"),
            openai_api_key=ORG_KEY,
            openai_base_url=f"{openai.base_url}/v1",
        )
        add_standard_gyms(server)
        server.start()
        try:
            yield server
        finally:
            server.stop()


@schemathesis.check
def valid_data_accepted(ctx: Any, response: Any, case: Any) -> bool | None:
    """positive_data_acceptance, but for the sync cursor: it is opaque, and only one this API
    issued is valid, which no schema can say (its alphabet and length it does say)."""
    if response.status_code == 422 and "cursor_malformed" in response.text:
        return None
    result: bool | None = positive_data_acceptance(ctx, response, case)
    return result


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    valid_data_accepted,
    negative_data_rejection,
]


def operations(cloud: CloudServer, headers: dict[str, str]) -> list[Any]:
    """The operations this caller can reach: those that do not refuse its token (or its lack
    of one) outright, which every other example would only repeat."""
    schema = schemathesis.openapi.from_url(f"{cloud.base_url}/openapi.json")
    found = [result.ok() for result in schema.get_all_operations()]
    assert len(found) >= 10
    return [op for op in found if reachable(cloud, op, headers)]


def reachable(cloud: CloudServer, operation: Any, headers: dict[str, str]) -> bool:
    path = re.sub(r"{[^}]+}", str(uuid.uuid4()), operation.path)
    answer = httpx.request(
        operation.method.upper(), cloud.base_url + path, json={}, headers=headers
    )
    refused = answer.status_code == 401 and answer.json()["error"]["code"] in {
        "missing_token",
        "invalid_token",
    }
    return not refused


def has_inputs(operation: Any) -> bool:
    return bool(len(operation.path_parameters) or len(operation.query) or len(operation.body))


def fuzz(operation: Any, headers: dict[str, str], mode: GenerationMode) -> None:
    if mode is GenerationMode.NEGATIVE and not has_inputs(operation):
        return  # nothing to get wrong

    @settings(FUZZ, max_examples=EXAMPLES[mode])
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("who", ["anonymous", "kiosk", "manager"])
def test_the_spec_and_the_server_agree(cloud: CloudServer, who: str, mode: GenerationMode) -> None:
    headers = {}
    if who == "kiosk":
        cloud.add_member(
            "gym-a", "CAFEBABE" if mode is GenerationMode.POSITIVE else "CAFEBEEF", "Fuzz"
        )
        headers = {"Authorization": f"Bearer {cloud.kiosk_token(cloud.provision('gym-a'))}"}
    elif who == "manager":
        email = f"fuzz.manager.{mode.value}@example.com"
        cloud.add_user(email, "gym_manager", gym_slug="gym-a")
        headers = {"Authorization": f"Bearer {cloud.user_token(email)}"}
    for operation in operations(cloud, headers):
        fuzz(operation, headers, mode)
