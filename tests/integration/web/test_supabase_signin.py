"""The production sign-in path: the dashboard signing people in through supabase-py's Auth
client against a local Supabase Auth (tests/fake_gotrue.py), tokens verified with its JWKS."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import jwt
import pyotp
import pytest

from tests.cloud_server import CloudServer, ServerThread, add_standard_gyms
from tests.conftest import PostgresServer
from tests.fake_gotrue import FakeGoTrue
from tests.web_client import SECRET, WebClient

PASSWORD = "supabase password"


@pytest.fixture(scope="module")
def gotrue() -> Iterator[FakeGoTrue]:
    fake = FakeGoTrue()
    with ServerThread(fake.app()) as server:
        fake.base_url = server.base_url
        yield fake


@pytest.fixture(scope="module")
def cloud(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory, gotrue: FakeGoTrue
) -> Iterator[CloudServer]:
    admin = postgres.create_database("supabase_signin")
    server = CloudServer(
        admin,
        postgres.api_url(admin),
        tmp_path_factory.mktemp("supabase_signin"),
        supabase_url=gotrue.base_url,
        supabase_anon_key="anon-key",
    )
    add_standard_gyms(server)
    for email, role, gym in (
        ("manager@a.example.com", "gym_manager", "gym-a"),
        ("root@jarvis.example.com", "super_admin", None),
    ):
        user_id = uuid.uuid4()
        server.sql("insert into auth.users (id, email) values (%s, %s)", (user_id, email))
        server.sql(
            "insert into users (id, email, role, gym_id) values "
            "(%s, %s, %s, (select id from gyms where slug = %s))",
            (user_id, email, role, gym),
        )
        gotrue.add(email, PASSWORD, user_id)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def web(cloud: CloudServer) -> Iterator[WebClient]:
    client = WebClient(cloud.base_url)
    yield client
    client.close()


def test_password_sign_in_refresh_and_sign_out_through_supabase(
    web: WebClient, gotrue: FakeGoTrue
) -> None:
    assert web.sign_in("manager@a.example.com", "wrong").status_code == 401
    assert web.sign_in("manager@a.example.com", PASSWORD).headers["location"] == "/dashboard"
    assert "Gym A" in web.get("/dashboard").text
    claims = jwt.decode(web.cookie("jarvis-at"), options={"verify_signature": False})
    assert claims["iss"] == f"{gotrue.base_url}/auth/v1"
    # An expired access token: the page refreshes it with Supabase.
    web.set_cookie("jarvis-at", "expired")
    assert web.get("/dashboard").status_code == 200
    assert web.cookie("jarvis-at") != "expired"
    web.post("/logout")
    assert gotrue.logouts == 1
    assert web.get("/dashboard").status_code == 303


def test_a_super_admin_enrols_and_verifies_a_supabase_factor(
    web: WebClient, gotrue: FakeGoTrue
) -> None:
    assert web.sign_in("root@jarvis.example.com", PASSWORD).headers["location"] == "/auth/mfa"
    enrolment = web.get("/auth/mfa")
    found = SECRET.search(enrolment.text)
    assert found is not None
    secret = found.group(1)
    assert secret == gotrue.accounts["root@jarvis.example.com"].factor["secret"]  # type: ignore[index]
    assert web.post("/auth/mfa", {"code": "000000"}).status_code == 401
    assert web.post("/auth/mfa", {"code": pyotp.TOTP(secret).now()}).status_code == 303
    claims = jwt.decode(web.cookie("jarvis-at"), options={"verify_signature": False})
    assert claims["aal"] == "aal2"
    assert "Franchises and gyms" in web.get("/dashboard/admin/clients").text
