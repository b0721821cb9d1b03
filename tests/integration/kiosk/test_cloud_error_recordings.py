"""The cloud error answers the kiosk's unit tests replay are the ones a real cloud gives.

Each error the kiosk maps to a behaviour is provoked from a real cloud (three configurations
over one database: with no daily budget and two API calls a minute; as shipped; with an
OpenAI that does not answer and one session per member and hour) and compared with
``tests/unit/kiosk/recordings/cloud_errors.json``: same status, same code, same detail keys,
same Retry-After presence. Messages may change; the contract may not without this failing.

It takes about 15 s: three cloud configurations, each a real server, are what it takes to
provoke every answer (a budget refusal and a mint failure cannot come from one cloud).

To record them again after a deliberate change to the API:
``JARVIS_RECORD_CLOUD_ERRORS=1 .venv/bin/pytest tests/integration/kiosk/test_cloud_error_recordings.py``
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from contract import kiosk_api as api
from tests.cloud_server import MADE, CloudServer
from tests.conftest import PostgresServer

RECORDINGS = Path(__file__).parents[2] / "unit" / "kiosk" / "recordings" / "cloud_errors.json"
RECORD = os.environ.get("JARVIS_RECORD_CLOUD_ERRORS") == "1"
GYM = "gym-errors"
UNREACHABLE_OPENAI = "http://127.0.0.1:9/v1"


@contextmanager
def running(server: CloudServer) -> Iterator[CloudServer]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Recorder:
    def __init__(self) -> None:
        self.answers: list[dict[str, Any]] = []

    def keep(self, name: str, request: str, response: httpx.Response) -> None:
        assert response.status_code >= 400, (name, response.status_code, response.text)
        self.answers.append(
            {
                "name": name,
                "request": request,
                "status": response.status_code,
                "retry_after": response.headers.get("Retry-After"),
                "body": response.json(),
            }
        )


def kiosk_client(cloud: CloudServer) -> httpx.Client:
    token = cloud.kiosk_token(cloud.provision(GYM))
    return httpx.Client(base_url=cloud.base_url, headers={"Authorization": f"Bearer {token}"})


def voice_start(
    client: httpx.Client, member_id: uuid.UUID, session_id: uuid.UUID
) -> httpx.Response:
    body = {"session_id": str(session_id), "member_id": str(member_id)}
    return client.post(api.VOICE_START, json=body)


def record(postgres: PostgresServer, folder: Path) -> list[dict[str, Any]]:
    admin = postgres.create_database("kiosk_errors")
    api_url = postgres.api_url(admin)
    rec = Recorder()
    operator = CloudServer(admin, api_url, folder / "operator")  # never started: its SQL only
    operator.add_gym(GYM)
    active = operator.add_member(GYM, "04A23B12", "Alice")
    operator.add_member(GYM, "04A23B13", "Bob", status="suspended")
    operator.add_member(GYM, "04A23B14", "Chloé", status="expired")
    operator.add_member(GYM, "04A23B15", "Dan")

    # The cloud keeps rate limits in the database, so they count every server's calls from
    # 127.0.0.1: the server with a tight limit goes before the others make any.
    with (
        running(
            CloudServer(
                admin,
                api_url,
                folder / "budget",
                openai_api_key="sk-test",
                openai_base_url=UNREACHABLE_OPENAI,
                voice_daily_budget_usd=0,
                rate_limit_api_per_min=2,  # provisioning and the token take both for 127.0.0.1
            )
        ) as cloud,
        kiosk_client(cloud) as kiosk,
    ):
        rec.keep(
            "daily_budget_exhausted",
            f"POST {api.VOICE_START}",
            voice_start(kiosk, active, uuid.uuid4()),
        )
        for _ in range(2):
            kiosk.get(api.MEMBER_SYNC).raise_for_status()
        rec.keep("rate_limited", f"GET {api.MEMBER_SYNC}", kiosk.get(api.MEMBER_SYNC))
    with running(CloudServer(admin, api_url, folder / "plain")) as cloud:
        claim = f"POST {api.PROVISION_CLAIM}"
        device = {"device_id": "recorder"}
        rec.keep(
            "claim_malformed",
            claim,
            httpx.post(cloud.base_url + api.PROVISION_CLAIM, json={"code": "!!", **device}),
        )
        rec.keep(
            "claim_invalid",
            claim,
            httpx.post(cloud.base_url + api.PROVISION_CLAIM, json={"code": "ZZZZZZ", **device}),
        )
        used = cloud.create_kiosk(GYM, "Used")
        httpx.post(
            cloud.base_url + api.PROVISION_CLAIM, json={"code": used, **device}
        ).raise_for_status()
        rec.keep(
            "claim_used",
            claim,
            httpx.post(cloud.base_url + api.PROVISION_CLAIM, json={"code": used, **device}),
        )
        stale = cloud.create_kiosk(GYM, "Stale")
        cloud.sql(
            "update kiosks set provisioning_code_expires_at = now() - interval '1 minute' "
            "where name = 'Stale'"
        )
        rec.keep(
            "claim_expired",
            claim,
            httpx.post(cloud.base_url + api.PROVISION_CLAIM, json={"code": stale, **device}),
        )
        revoked = {"kiosk_id": str(uuid.uuid4()), "credential": "not-a-credential"}
        rec.keep(
            "token_refused",
            f"POST {api.TOKEN}",
            httpx.post(cloud.base_url + api.TOKEN, json=revoked),
        )
        rec.keep(
            "missing_token", f"GET {api.MEMBER_SYNC}", httpx.get(cloud.base_url + api.MEMBER_SYNC)
        )
        forged = {"Authorization": "Bearer not-a-token"}
        rec.keep(
            "invalid_token",
            f"POST {api.HEARTBEAT}",
            httpx.post(
                cloud.base_url + api.HEARTBEAT, headers=forged, json={"software_version": "x"}
            ),
        )
        with kiosk_client(cloud) as kiosk:
            rec.keep(
                "sessions_invalid",
                f"POST {api.SESSIONS}",
                kiosk.post(api.SESSIONS, json={"sessions": [{"id": "x"}]}),
            )
            rec.keep(
                "events_invalid", f"POST {api.EVENTS}", kiosk.post(api.EVENTS, json={"events": []})
            )
            rec.keep(
                "cursor_malformed",
                f"GET {api.MEMBER_SYNC}",
                kiosk.get(api.MEMBER_SYNC, params={"cursor": "not-a-cursor"}),
            )
            path = api.MEMBER_BY_BADGE.format(badge_id="zz")
            rec.keep("badge_malformed", f"GET {api.MEMBER_BY_BADGE}", kiosk.get(path))
            rec.keep(
                "voice_not_configured",
                f"POST {api.VOICE_START}",
                voice_start(kiosk, active, uuid.uuid4()),
            )

    with (
        running(
            CloudServer(
                admin,
                api_url,
                folder / "voice",
                openai_api_key="sk-test",
                openai_base_url=UNREACHABLE_OPENAI,
                voice_sessions_per_member_per_hour=1,
            )
        ) as cloud,
        kiosk_client(cloud) as kiosk,
    ):
        ids = {
            r["first_name"]: r["id"] for r in cloud.sql("select id, first_name from gym_members")
        }
        start = f"POST {api.VOICE_START}"
        rec.keep("member_not_found", start, voice_start(kiosk, uuid.uuid4(), uuid.uuid4()))
        rec.keep("member_suspended", start, voice_start(kiosk, ids["Bob"], uuid.uuid4()))
        rec.keep("membership_expired", start, voice_start(kiosk, ids["Chloé"], uuid.uuid4()))
        first = uuid.uuid4()
        rec.keep("openai_unreachable", start, voice_start(kiosk, ids["Alice"], first))
        rec.keep("session_id_in_use", start, voice_start(kiosk, ids["Dan"], first))
        # Failed starts do not count against the member's hourly limit; a held one does.
        cloud.sql(f"update voice_session_starts set status = 'started' where id = {MADE}", (first,))
        rec.keep("member_session_limit", start, voice_start(kiosk, ids["Alice"], uuid.uuid4()))

    return rec.answers


def shape(answer: dict[str, Any]) -> tuple[Any, ...]:
    error = answer["body"]["error"]
    details = error.get("details")
    keys = sorted(details) if isinstance(details, dict) else type(details).__name__
    return (answer["status"], error["code"], keys, answer["retry_after"] is not None)


def test_recorded_cloud_errors_are_what_the_cloud_answers(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    fresh = record(postgres, tmp_path)
    if RECORD:
        RECORDINGS.write_text(json.dumps(fresh, indent=2, ensure_ascii=False) + "\n")
        pytest.skip(f"recorded {len(fresh)} answers to {RECORDINGS}")
    recorded = {a["name"]: a for a in json.loads(RECORDINGS.read_text())}
    assert sorted(recorded) == sorted(a["name"] for a in fresh)
    for answer in fresh:
        assert shape(answer) == shape(recorded[answer["name"]]), answer["name"]
