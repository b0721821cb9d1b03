"""Dashboard sign-in on the local issuer: cookies, CSRF, refresh, sign-out, the rate limit,
second factors (required for super admins, enforced by RLS through `aal`), invitations."""

from __future__ import annotations

import time
from collections.abc import Iterator

import jwt
import pyotp
import pytest

from tests.cloud_server import PASSWORD, CloudServer, add_standard_gyms
from tests.conftest import PostgresServer
from tests.web_client import WebClient, csrf_of


@pytest.fixture(scope="module")
def cloud(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CloudServer]:
    admin = postgres.create_database("signin")
    # Short tokens so that one test can watch an access token expire and be refreshed.
    server = CloudServer(
        admin, postgres.api_url(admin), tmp_path_factory.mktemp("signin"), user_token_ttl_s=60
    )
    add_standard_gyms(server)
    server.add_user("manager@a.test", "gym_manager", gym_slug="gym-a")
    server.add_user("staff@a.test", "gym_staff", gym_slug="gym-a")
    server.add_user("owner@ab.test", "franchise_owner", franchise_slug="franchise-ab")
    server.add_user("root@jarvis.test", "super_admin")
    server.add_user("gone@a.test", "gym_staff", gym_slug="gym-a")
    server.sql("update users set is_active = false where email = 'gone@a.test'")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def web(cloud: CloudServer) -> Iterator[WebClient]:
    client = WebClient(cloud.base_url)
    try:
        yield client
    finally:
        client.close()


def test_pages_need_a_sign_in(web: WebClient) -> None:
    answer = web.get("/dashboard/alerts?status=open")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Fdashboard%2Falerts%3Fstatus%3Dopen"
    assert web.get("/").headers["location"] == "/dashboard"


def test_sign_in_sets_http_only_same_site_cookies_and_lands_on_the_page_asked(
    web: WebClient,
) -> None:
    web.get("/login")
    answer = web.post(
        "/login",
        {"email": "manager@a.test", "password": PASSWORD, "next": "/dashboard/kiosks"},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/kiosks"
    cookies = [c for c in web.cookie_headers(answer) if c.startswith("jarvis-")]
    assert {c.split("=")[0] for c in cookies} == {"jarvis-at", "jarvis-rt"}
    for cookie in cookies:
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        assert "Path=/" in cookie
        assert "Secure" not in cookie  # plain http on 127.0.0.1 (development)
    page = web.get("/dashboard")
    assert page.status_code == 200
    assert "Gym A" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_https_requests_get_secure_host_cookies(web: WebClient) -> None:
    web.get("/login")
    answer = web.post(
        "/login",
        {"email": "manager@a.test", "password": PASSWORD},
        headers={"x-forwarded-proto": "https"},  # from uvicorn's trusted local proxy
    )
    names = [c.split("=")[0] for c in web.cookie_headers(answer)]
    assert "__Host-jarvis-at" in names
    assert all("Secure" in c for c in web.cookie_headers(answer) if c.startswith("__Host-"))


def test_open_redirects_are_refused(web: WebClient) -> None:
    web.get("/login")
    answer = web.post(
        "/login", {"email": "manager@a.test", "password": PASSWORD, "next": "//evil.test/x"}
    )
    assert answer.headers["location"] == "/dashboard"


def test_wrong_password_and_deactivated_account_are_refused_alike(web: WebClient) -> None:
    for email, password in (("manager@a.test", "nope"), ("gone@a.test", PASSWORD)):
        answer = web.sign_in(email, password)
        assert answer.status_code == 401
        assert "Wrong email or password." in answer.text
        assert not [c for c in web.cookie_headers(answer) if c.startswith("jarvis-at")]


def test_a_form_without_its_csrf_token_is_refused(web: WebClient, cloud: CloudServer) -> None:
    answer = web.http.post("/login", data={"email": "manager@a.test", "password": PASSWORD})
    assert answer.status_code == 403
    web.sign_in("manager@a.test", PASSWORD)
    alert = cloud.sql(
        "insert into manager_alerts (gym_id, alert_type, title) select id, 'other', 'csrf' "
        "from gyms where slug = 'gym-a' returning id"
    )[0]["id"]
    forged = web.http.post(f"/dashboard/alerts/{alert}", data={"action": "resolve"})
    assert forged.status_code == 403
    assert "csrf_failed" in forged.text
    assert cloud.sql("select status from manager_alerts where id = %s", (alert,))[0]["status"] == (
        "pending"
    )


def test_sign_out_ends_the_session_for_good(web: WebClient) -> None:
    web.sign_in("staff@a.test", PASSWORD)
    refresh = web.cookie("jarvis-rt")
    web.get("/dashboard")
    answer = web.post("/logout")
    assert answer.headers["location"] == "/login?notice=signed_out"
    assert web.get("/dashboard").status_code == 303
    # The refresh token was revoked server-side: replaying the stolen cookie does nothing.
    web.set_cookie("jarvis-rt", refresh)
    assert web.get("/dashboard").status_code == 303


def test_an_expired_access_token_is_refreshed_transparently(
    web: WebClient, cloud: CloudServer
) -> None:
    web.sign_in("staff@a.test", PASSWORD)
    first_refresh = web.cookie("jarvis-rt")
    # An access token past its expiry, as the browser would still hold it.
    claims = jwt.decode(web.cookie("jarvis-at"), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 60
    web.set_cookie("jarvis-at", "expired." + web.cookie("jarvis-at"))
    page = web.get("/dashboard")
    assert page.status_code == 200
    assert web.cookie("jarvis-rt") != first_refresh  # rotated
    # The replaced token still works for a few seconds (two tabs refreshing at once)...
    other = WebClient(cloud.base_url)
    other.set_cookie("jarvis-rt", first_refresh)
    assert other.get("/dashboard").status_code == 200
    other.close()


def test_the_login_is_rate_limited_with_a_clear_message(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    admin = postgres.create_database("signin_limit")
    server = CloudServer(
        admin,
        postgres.api_url(admin),
        tmp_path_factory.mktemp("signin_limit"),
        rate_limit_login_per_min=3,
    )
    server.start()
    client = WebClient(server.base_url)
    try:
        statuses = [client.sign_in("who@x.test", "nope").status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        last = client.sign_in("who@x.test", "nope")
        assert "Too many sign-in attempts from your address. Wait" in last.text
        assert int(last.headers["retry-after"]) > 0
    finally:
        client.close()
        server.stop()


# -- second factor ------------------------------------------------------------------------------


def test_a_super_admin_enrols_a_second_factor_before_anything(
    web: WebClient, cloud: CloudServer
) -> None:
    answer = web.sign_in("root@jarvis.test", PASSWORD)
    assert answer.headers["location"] == "/auth/mfa"
    # With a password alone, the dashboard sends them back to the second factor...
    assert web.get("/dashboard/admin/clients").headers["location"] == "/auth/mfa"
    # ...and their token is worth nothing to RLS (aal1): the JSON API shows no gym at all.
    token = web.cookie("jarvis-at")
    assert jwt.decode(token, options={"verify_signature": False})["aal"] == "aal1"
    assert (
        web.http.get(
            "/api/dashboard/overview", headers={"authorization": f"Bearer {token}"}
        ).json()["gyms"]
        == 0
    )
    enrol = web.get("/auth/mfa")
    assert "Set up your second factor" in enrol.text
    assert "<svg" in enrol.text
    wrong = web.post("/auth/mfa", {"code": "000000"})
    assert wrong.status_code == 401
    assert "not right" in wrong.text
    secret = web.pass_mfa()
    token = web.cookie("jarvis-at")
    assert jwt.decode(token, options={"verify_signature": False})["aal"] == "aal2"
    assert "Franchises and gyms" in web.get("/dashboard/admin/clients").text
    overview = web.http.get(
        "/api/dashboard/overview", headers={"authorization": f"Bearer {token}"}
    ).json()
    assert overview["gyms"] == 3
    assert cloud.sql("select mfa_enabled from users where email = 'root@jarvis.test'") == [
        {"mfa_enabled": True}
    ]

    # Next sign-in: a challenge (no new secret), and a code is accepted only once.
    second = WebClient(cloud.base_url)
    try:
        second.sign_in("root@jarvis.test", PASSWORD)
        challenge = second.get("/auth/mfa")
        assert "Two-step verification" in challenge.text
        assert "secret" not in challenge.text
        assert second.post("/auth/mfa", {"code": web.last_code}).status_code == 401  # replayed
        # The next step's code (accepted for clock drift) has never been used.
        fresh = pyotp.TOTP(secret).at(time.time() + 30)
        assert second.post("/auth/mfa", {"code": fresh}).status_code == 303
    finally:
        second.close()


# -- invitations ---------------------------------------------------------------------------------


def test_a_manager_invites_staff_who_choose_a_password_and_sign_in(
    web: WebClient, cloud: CloudServer
) -> None:
    web.sign_in("manager@a.test", PASSWORD)
    web.get("/dashboard/team")
    invited = web.post(
        "/dashboard/team",
        {
            "email": "New.Coach@a.test",
            "full_name": "New Coach",
            "role": "gym_staff",
            "gym": "gym-a",
        },
    )
    assert invited.status_code == 201, invited.text
    link = invited.text.split('readonly value="')[1].split('"')[0]
    token = link.split("token=")[1]
    # A manager cannot make a manager, nor put staff in another gym: RLS refuses, nothing stays.
    web.get("/dashboard/team")
    refused = web.post(
        "/dashboard/team", {"email": "boss@a.test", "role": "gym_manager", "gym": "gym-a"}
    )
    assert refused.status_code == 403
    elsewhere = web.post(
        "/dashboard/team", {"email": "spy@b.test", "role": "gym_staff", "gym": "gym-b"}
    )
    assert elsewhere.status_code == 422  # gym-b is not visible to a gym-a manager
    assert (
        cloud.sql("select email from auth.users where email in ('boss@a.test', 'spy@b.test')") == []
    )

    newcomer = WebClient(cloud.base_url)
    try:
        form = newcomer.get(f"/auth/setup?token={token}")
        assert "new.coach@a.test" in form.text
        short = newcomer.post(
            "/auth/setup", {"token": token, "password": "short", "password_again": "short"}
        )
        assert short.status_code == 422
        newcomer.last_csrf = csrf_of(short.text)
        done = newcomer.post(
            "/auth/setup",
            {
                "token": token,
                "password": "a long passphrase",
                "password_again": "a long passphrase",
            },
        )
        assert done.headers["location"] == "/login?notice=password_set"
        assert newcomer.get(f"/auth/setup?token={token}").status_code == 404  # once only
        assert newcomer.sign_in("new.coach@a.test", "a long passphrase").status_code == 303
        assert "Gym A" in newcomer.get("/dashboard").text
    finally:
        newcomer.close()


def test_a_deactivated_person_loses_access_at_once(web: WebClient, cloud: CloudServer) -> None:
    cloud.add_user("temp@a.test", "gym_staff", gym_slug="gym-a")
    temp = WebClient(cloud.base_url)
    try:
        temp.sign_in("temp@a.test", PASSWORD)
        assert temp.get("/dashboard").status_code == 200
        web.sign_in("manager@a.test", PASSWORD)
        web.get("/dashboard/team")
        user_id = cloud.sql("select id from users where email = 'temp@a.test'")[0]["id"]
        assert web.post(f"/dashboard/team/{user_id}", {"active": "false"}).status_code == 303
        assert temp.get("/dashboard").status_code == 403  # the same token, now worth nothing
    finally:
        temp.close()
