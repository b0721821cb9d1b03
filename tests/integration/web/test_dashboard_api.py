"""The dashboard's JSON endpoints with user tokens: scoped by RLS, paged, and the alert
lifecycle with its refusals."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.cloud_server import CloudServer, add_standard_gyms
from tests.conftest import PostgresServer


@pytest.fixture(scope="module")
def cloud(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CloudServer]:
    admin = postgres.create_database("dashboard_api")
    server = CloudServer(admin, postgres.api_url(admin), tmp_path_factory.mktemp("dashboard_api"))
    add_standard_gyms(server)
    server.add_user("manager@a.example.com", "gym_manager", gym_slug="gym-a")
    server.add_user("staff@a.example.com", "gym_staff", gym_slug="gym-a")
    server.add_user("owner@ab.example.com", "franchise_owner", franchise_slug="franchise-ab")
    for gym, count in (("gym-a", 60), ("gym-b", 3)):
        for i in range(count):
            server.add_member(gym, f"{ord(gym[-1]):02X}{i:06X}", f"M{gym[-1]}{i:02d}")
    server.sql(
        "insert into member_analytics (member_id, gym_id, churn_risk_score, churn_risk_level) "
        "select id, gym_id, (abs(hashtext(id::text)) %% 100) / 100.0, 'low' from gym_members"
    )
    # Not analysed yet (just imported): listed after every analysed member.
    for i in range(50):
        server.add_member("gym-b", f"0B{i:06X}", f"New{i:02d}")
    server.sql(
        "insert into manager_alerts (gym_id, alert_type, priority, title) "
        "select id, 'equipment_issue', 'high', 'Rower broken in ' || slug from gyms"
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def api(cloud: CloudServer, email: str) -> httpx.Client:
    token = cloud.user_token(email)
    return httpx.Client(
        base_url=cloud.base_url, headers={"authorization": f"Bearer {token}"}, timeout=30
    )


def test_a_token_is_needed(cloud: CloudServer) -> None:
    answer = httpx.get(f"{cloud.base_url}/api/dashboard/alerts")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "missing_token"


def test_members_are_paged_by_churn_risk_within_the_callers_gyms(cloud: CloudServer) -> None:
    with api(cloud, "manager@a.example.com") as manager:
        first = manager.get("/api/dashboard/members").json()
        assert len(first["members"]) == 50
        second = manager.get(
            "/api/dashboard/members", params={"cursor": first["next_cursor"]}
        ).json()
        assert second["next_cursor"] is None
        members = first["members"] + second["members"]
        assert len({m["id"] for m in members}) == 60
        assert {m["gym_slug"] for m in members} == {"gym-a"}
        scores = [float(m["churn_risk_score"]) for m in members]
        assert scores == sorted(scores, reverse=True)
        assert manager.get("/api/dashboard/members", params={"gym": "gym-b"}).status_code == 404
        damaged = manager.get("/api/dashboard/members", params={"cursor": "not-a-cursor"})
        assert damaged.status_code == 422
        assert damaged.json()["error"]["code"] == "cursor_malformed"
        badge = manager.get("/api/dashboard/members", params={"q": "61:00:00:05"}).json()
        assert [m["first_name"] for m in badge["members"]] == ["Ma05"]
    with api(cloud, "owner@ab.example.com") as owner:
        page = owner.get("/api/dashboard/members", params={"gym": "gym-b"}).json()
        assert {m["gym_slug"] for m in page["members"]} == {"gym-b"}
        # The 3 analysed members by churn risk, then the 50 not analysed yet, over two pages.
        rest = owner.get(
            "/api/dashboard/members", params={"gym": "gym-b", "cursor": page["next_cursor"]}
        ).json()
        listed = page["members"] + rest["members"]
        assert rest["next_cursor"] is None
        assert [m["churn_risk_score"] is None for m in listed] == [False] * 3 + [True] * 50
        assert len({m["id"] for m in listed}) == 53
        engaged = owner.get(
            "/api/dashboard/members", params={"gym": "gym-b", "sort": "engaged"}
        ).json()
        assert len(engaged["members"]) == 50
        names = [g["name"] for g in owner.get("/api/dashboard/franchise/comparison").json()]
        assert names == ["Gym A", "Gym B"]


def _alert(client: httpx.Client, gym: str) -> dict[str, Any]:
    alerts = client.get("/api/dashboard/alerts", params={"gym": gym}).json()["alerts"]
    assert len(alerts) == 1
    found: dict[str, Any] = alerts[0]
    return found


def test_the_alert_lifecycle_and_its_refusals(cloud: CloudServer) -> None:
    with api(cloud, "staff@a.example.com") as staff, api(cloud, "manager@a.example.com") as manager:
        alert = _alert(staff, "gym-a")
        url = f"/api/dashboard/alerts/{alert['id']}"
        started = staff.post(url, json={"action": "start"})
        assert started.status_code == 200, started.text
        assert started.json()["status"] == "in_progress"
        manager_id = cloud.sql("select id from users where email = 'manager@a.example.com'")[0][
            "id"
        ]
        refused = staff.post(url, json={"action": "assign", "assignee": str(manager_id)})
        assert refused.status_code == 403  # staff cannot reassign
        assert (
            manager.post(url, json={"action": "assign", "assignee": str(manager_id)}).status_code
            == 200
        )
        done = manager.post(url, json={"action": "resolve", "notes": "new belt"}).json()
        assert (done["status"], done["resolution_notes"]) == ("resolved", "new belt")
        again = manager.post(url, json={"action": "dismiss"})  # resolved is final
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "alert_transition_invalid"
        other = cloud.sql("select id from manager_alerts where title = 'Rower broken in gym-b'")[0]
        hidden = manager.post(f"/api/dashboard/alerts/{other['id']}", json={"action": "resolve"})
        assert hidden.status_code == 404
        assert cloud.sql("select status from manager_alerts where id = %s", (other["id"],)) == [
            {"status": "pending"}
        ]


def test_overview_and_analytics_count_only_the_callers_gyms(cloud: CloudServer) -> None:
    with api(cloud, "manager@a.example.com") as manager:
        overview = manager.get("/api/dashboard/overview").json()
        assert overview["gyms"] == 1
        assert overview["members_total"] == 60
        churn = manager.get("/api/dashboard/analytics", params={"days": 7}).json()
        assert len(churn["daily"]) == 7
        assert sum(churn["churn"].values()) == 60
    with api(cloud, "owner@ab.example.com") as owner:
        assert owner.get("/api/dashboard/overview").json()["members_total"] == 113


def test_the_openapi_spec_documents_the_dashboard(cloud: CloudServer) -> None:
    spec = httpx.get(f"{cloud.base_url}/openapi.json").json()
    paths = {p for p in spec["paths"] if p.startswith("/api/dashboard")}
    assert {"/api/dashboard/members", "/api/dashboard/alerts/{alert_id}"} <= paths
    assert not any(p.startswith("/dashboard") for p in spec["paths"])  # pages are not API
