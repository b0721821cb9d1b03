"""Rate limits hold across API replicas: two real API servers (each its own app and
connection pool) over one database allow a caller its limit in total, not per replica."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest

from tests.cloud_server import CloudServer
from tests.conftest import PostgresServer

LIMIT = 5
HEARTBEAT = {"software_version": "1"}


@dataclass
class Replicas:
    a: CloudServer
    b: CloudServer

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        return self.a.sql(query, params)

    def kiosk_token(self) -> tuple[str, str]:
        # Claims and tokens count against this address's own `api` limit (5 here): forget
        # it, the tests are about the kiosks' limits.
        self.sql("delete from private.rate_limits where caller = 'ip:127.0.0.1'")
        claim = self.a.provision("gym-a")
        return claim["kiosk_id"], self.b.kiosk_token(claim)  # token from the other replica

    def hits(self, caller: str, bucket: str = "api") -> int:
        rows = self.sql(
            "select hits from private.rate_limits where bucket = %s and caller = %s",
            (bucket, caller),
        )
        return int(rows[0]["hits"]) if rows else 0


@pytest.fixture(scope="module")
def replicas(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicas]:
    admin = postgres.create_database("ratelimit")
    shared = {
        "token_secret": "replicas-share-this-" + uuid.uuid4().hex,
        "rate_limit_api_per_min": LIMIT,
        "rate_limit_login_per_min": LIMIT,
    }
    servers = [
        CloudServer(
            admin, postgres.api_url(admin), tmp_path_factory.mktemp(f"replica-{name}"), **shared
        )
        for name in ("a", "b")
    ]
    # Replica b also sweeps ended windows often (the default is every 5 minutes).
    servers[1].settings = servers[1].settings.model_copy(update={"rate_limit_sweep_s": 0.2})
    servers[0].add_gym("gym-a")
    for server in servers:
        server.start()
    try:
        yield Replicas(*servers)
    finally:
        for server in servers:
            server.stop()


def heartbeat(server: CloudServer, token: str, body: dict[str, Any] = HEARTBEAT) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/api/kiosk/heartbeat",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def test_two_replicas_allow_the_limit_in_total(replicas: Replicas) -> None:
    kiosk_id, token = replicas.kiosk_token()
    servers = [replicas.a, replicas.b] * 8  # 16 concurrent heartbeats, half on each replica
    with ThreadPoolExecutor(max_workers=len(servers)) as pool:
        answers = list(pool.map(lambda server: heartbeat(server, token), servers))
    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == {200: LIMIT, 429: len(servers) - LIMIT}
    allowed = [a for a in answers if a.status_code == 200]
    assert sorted(int(a.headers["X-RateLimit-Remaining"]) for a in allowed) == [0, 1, 2, 3, 4]
    for refused in (a for a in answers if a.status_code == 429):
        assert refused.json()["error"]["code"] == "rate_limited"
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        assert 0 < int(refused.headers["Retry-After"]) <= 60
    # Refused attempts are not counted (the window holds exactly the allowed ones) and did
    # nothing: only the allowed heartbeats were stored.
    assert replicas.hits(f"kiosk:{kiosk_id}") == LIMIT
    stored = replicas.sql(
        "select count(*) as n from kiosk_heartbeats where kiosk_id = %s", (kiosk_id,)
    )
    assert stored[0]["n"] == LIMIT


def test_retry_after_is_when_the_window_ends_and_then_it_rolls(replicas: Replicas) -> None:
    kiosk_id, token = replicas.kiosk_token()
    for _ in range(LIMIT):
        assert heartbeat(replicas.a, token).status_code == 200
    refused = heartbeat(replicas.b, token)
    assert refused.status_code == 429
    [row] = replicas.sql(
        "select extract(epoch from window_end - now()) as left_s from private.rate_limits "
        "where caller = %s",
        (f"kiosk:{kiosk_id}",),
    )
    assert abs(int(refused.headers["Retry-After"]) - float(row["left_s"])) <= 2

    # The clock passes the window's end (aged in the database rather than waited for).
    replicas.sql(
        "update private.rate_limits set window_end = now() - interval '1 second' where caller = %s",
        (f"kiosk:{kiosk_id}",),
    )
    again = heartbeat(replicas.b, token)
    assert again.status_code == 200
    assert again.headers["X-RateLimit-Remaining"] == str(LIMIT - 1)
    assert 55 <= int(again.headers["X-RateLimit-Reset"]) <= 60
    assert replicas.hits(f"kiosk:{kiosk_id}") == 1


def test_a_request_that_fails_after_its_charge_still_counts(replicas: Replicas) -> None:
    kiosk_id, token = replicas.kiosk_token()
    # The token still verifies, so the request is charged; then the database refuses the
    # revoked credential (the schema now refuses a NUL byte before any charge).
    replicas.sql("update kiosk_credentials set revoked_at = now() where kiosk_id = %s", (kiosk_id,))
    for server in [replicas.a, replicas.b] * 3:
        answer = heartbeat(server, token)
        if answer.status_code == 429:
            break
        assert answer.status_code == 401
    else:
        pytest.fail("failing requests were never limited")
    assert heartbeat(replicas.a, token).status_code == 429


def test_a_value_the_databases_rules_refuse_is_the_callers_422(replicas: Replicas) -> None:
    _, token = replicas.kiosk_token()
    # A heartbeat the contract accepts and the database then refuses (a constraint added
    # for this test): the caller's value, answered 422 like any other bad value, never a 500.
    replicas.sql(
        "alter table kiosk_heartbeats add constraint test_refused "
        "check (last_error is distinct from 'refused by the database') not valid"
    )
    try:
        answer = heartbeat(
            replicas.a, token, {**HEARTBEAT, "last_error": "refused by the database"}
        )
    finally:
        replicas.sql("alter table kiosk_heartbeats drop constraint test_refused")
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "invalid_value"


def test_limits_are_per_caller(replicas: Replicas) -> None:
    """One caller at its limit locks out nobody else: not another kiosk, not a source
    address, not the same kiosk's other bucket."""
    _, exhausted = replicas.kiosk_token()
    while heartbeat(replicas.a, exhausted).status_code != 429:
        pass
    _, other = replicas.kiosk_token()
    assert heartbeat(replicas.b, other).status_code == 200
    login = httpx.post(
        f"{replicas.b.base_url}/auth/login",
        json={"email": "nobody@example.com", "password": "wrong"},
    )
    assert login.status_code == 401  # evaluated: the login bucket of this address is apart


def test_ended_windows_are_swept_and_live_ones_kept(replicas: Replicas) -> None:
    replicas.sql(
        "insert into private.rate_limits (bucket, caller, window_end, hits) values "
        "('api', 'test:ended', now() - interval '1 second', 3), "
        "('api', 'test:live', now() + interval '1 minute', 3)"
    )
    deadline = time.monotonic() + 20
    while replicas.sql("select 1 from private.rate_limits where caller = 'test:ended'"):
        assert time.monotonic() < deadline, "replica b's sweeper never removed the ended window"
        time.sleep(0.05)
    assert replicas.sql("select hits from private.rate_limits where caller = 'test:live'")


def test_only_the_api_login_role_touches_the_counters(
    postgres: PostgresServer, replicas: Replicas
) -> None:
    api_url = postgres.api_url(replicas.a.admin_url)
    with psycopg.connect(api_url, autocommit=True) as conn:
        for role in ("anon", "authenticated"):
            with conn.transaction():
                conn.execute(f"set local role {role}")
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute("select * from private.rate_limit_take('api', 'x', 1, 60, 1)")
            with conn.transaction():
                conn.execute(f"set local role {role}")
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute("select * from private.rate_limits")

        def take(cost: int) -> tuple[bool, int]:
            row = conn.execute(
                "select * from private.rate_limit_take('t', 'x', 1, 60, %s)", (cost,)
            ).fetchone()
            assert row is not None
            assert 50 < row[2] <= 60  # seconds until the window ends
            return row[0], row[1]

        # As itself, the login role can charge and look, but not read the table.
        assert take(1) == (True, 1)
        assert take(1) == (False, 1)  # refused, not counted
        assert take(0) == (False, 1)  # looking: one more would not fit
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from private.rate_limits")
        # A request's charge refuses by raising, so nothing after it in the message runs.
        charged = conn.execute("select * from private.rate_limit_charge('t', 'y', 1, 60)")
        assert charged.fetchone()[0] == 1  # type: ignore[index]
        with pytest.raises(psycopg.Error) as refused:
            conn.execute("select * from private.rate_limit_charge('t', 'y', 1, 60)")
        assert refused.value.diag.sqlstate == "JR429"
        detail = json.loads(refused.value.diag.message_detail or "")
        assert detail["hits"] == 1
        assert 0 < detail["reset_s"] <= 60
