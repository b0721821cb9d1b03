"""The dashboard in a real headless Chromium, on the demo data, against a running cloud.

One browser and one server for the module; each person signs in in a context of their own.
Screenshots of every main page are saved for review (tests/screenshots/, git-ignored).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from cloud_api.seed.demo import DEMO_PASSWORD, seed_demo
from tests.browser import SCREENSHOTS, chromium
from tests.cloud_server import CloudServer, ServerThread
from tests.conftest import PostgresServer
from tests.integration.cloud.voice_peers import ORG_KEY, kiosk_headers, simulator_app, start
from tests.integration.kiosk.kiosk_home import KioskHome

AXE = Path(__file__).parents[1] / "assets" / "axe-core" / "axe.min.js"
MANAGER = "manager.bordeaux@atlas.demo"
HOME_GYM = "Atlas Bordeaux Centre"
OTHER_GYMS = ("Atlas Mérignac", "Atlas Pessac", "Le Studio Dax")
MAIN_PAGES = (
    "/dashboard",
    "/dashboard/members",
    "/dashboard/sessions",
    "/dashboard/alerts",
    "/dashboard/kiosks",
    "/dashboard/analytics",
    "/dashboard/insights",
    "/dashboard/members/import",
    "/dashboard/team",
)
ADMIN_PAGES = (
    "/dashboard/franchise",
    "/dashboard/admin/clients",
    "/dashboard/admin/monitoring",
    "/dashboard/admin/costs",
    "/dashboard/admin/logs",
)


@pytest.fixture(scope="module")
def cloud(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CloudServer]:
    admin = postgres.create_database("browser")
    seed_demo(admin)
    _, realtime = simulator_app()
    with ServerThread(realtime) as openai:
        server = CloudServer(
            admin,
            postgres.api_url(admin),
            tmp_path_factory.mktemp("browser"),
            openai_api_key=ORG_KEY,
            openai_base_url=f"{openai.base_url}/v1",
        )
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="module")
def browser(cloud: CloudServer) -> Iterator[Browser]:
    # After the cloud: Playwright's sync API runs an event loop in this thread, and seeding
    # the demo runs one of its own.
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with chromium() as found:
        yield found


class Person:
    def __init__(self, browser: Browser, cloud: CloudServer, email: str) -> None:
        self.cloud = cloud
        self.context: BrowserContext = browser.new_context(
            base_url=cloud.base_url, viewport={"width": 1280, "height": 900}, bypass_csp=True
        )
        self.page = self.context.new_page()
        self.email = email

    def sign_in(self, mfa_secret: str | None = None) -> str | None:
        self.page.goto("/login")
        self.page.get_by_label("Email").fill(self.email)
        self.page.get_by_label("Password").fill(DEMO_PASSWORD)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_load_state()
        if "/auth/mfa" in self.page.url:
            if mfa_secret is None:
                mfa_secret = self.page.locator("code.secret").inner_text()
            self.page.get_by_label("6-digit code").fill(pyotp.TOTP(mfa_secret).now())
            self.page.get_by_role("button", name="Verify").click()
            self.page.wait_for_url("**/dashboard")
        return mfa_secret

    def visit(self, path: str) -> str:
        response = self.page.goto(path)
        assert response is not None
        assert response.status == 200, f"{path}: {response.status}"
        return self.page.inner_text("body")

    def shoot(self, name: str) -> None:
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def person(browser: Browser, cloud: CloudServer) -> Iterator[Any]:
    opened: list[Person] = []

    def open_as(email: str) -> Person:
        who = Person(browser, cloud, email)
        opened.append(who)
        return who

    yield open_as
    for who in opened:
        who.close()


def slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.strip("/")).strip("-") or "root"


# -- every role ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "heading", "sees"),
    [
        (MANAGER, HOME_GYM, "Import members"),
        ("staff.bordeaux@atlas.demo", HOME_GYM, "Alerts"),
        ("owner@atlas.demo", "All my gyms", "Compare gyms"),
        ("manager@lestudio.demo", "Le Studio Dax", "Team"),
    ],
)
def test_each_role_signs_in_to_their_own_scope(
    person: Any, email: str, heading: str, sees: str
) -> None:
    who = person(email)
    who.sign_in()
    expect(who.page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(who.page.get_by_role("navigation", name="Dashboard")).to_contain_text(sees)
    who.shoot(f"overview-{email.split('@')[0]}")


def test_the_admin_needs_a_second_factor_then_sees_everything(person: Any) -> None:
    admin = person("admin@jarvis.demo")
    admin.page.goto("/login")
    admin.page.get_by_label("Email").fill(admin.email)
    admin.page.get_by_label("Password").fill(DEMO_PASSWORD)
    admin.page.get_by_role("button", name="Sign in").click()
    expect(admin.page.get_by_role("heading", level=1)).to_have_text("Set up your second factor")
    admin.shoot("mfa-enrolment")
    secret = admin.page.locator("code.secret").inner_text()
    admin.page.get_by_label("6-digit code").fill(pyotp.TOTP(secret).now())
    admin.page.get_by_role("button", name="Verify").click()
    admin.page.wait_for_url("**/dashboard")
    for path in ADMIN_PAGES:
        text = admin.visit(path)
        assert "Not allowed" not in text
        admin.shoot(slug(path))
    assert all(name in admin.visit("/dashboard/admin/clients") for name in OTHER_GYMS)


# -- scoping ---------------------------------------------------------------------------------


def _other_gyms_ids(cloud: CloudServer) -> dict[str, list[Any]]:
    other = "select id from gyms where name <> %s"
    return {
        "members": [
            r["id"]
            for r in cloud.sql(
                f"select id from gym_members where gym_id in ({other}) limit 3", (HOME_GYM,)
            )
        ],
        "sessions": [
            r["id"]
            for r in cloud.sql(
                f"select id from realtime_sessions where gym_id in ({other}) limit 3", (HOME_GYM,)
            )
        ],
        "alerts": [
            r["id"]
            for r in cloud.sql(
                f"select id from manager_alerts where gym_id in ({other}) limit 3", (HOME_GYM,)
            )
        ],
        "kiosks": [
            r["id"]
            for r in cloud.sql(
                f"select id from kiosks where gym_id in ({other}) limit 3", (HOME_GYM,)
            )
        ],
        "insights": [
            r["id"]
            for r in cloud.sql(
                "select id from insights_reports where gym_id is distinct from (select id from gyms where name = %s)",
                (HOME_GYM,),
            )
        ],
    }


def test_a_manager_never_sees_another_gym_and_tampered_urls_answer_404(
    person: Any, cloud: CloudServer
) -> None:
    who = person(MANAGER)
    who.sign_in()
    foreign_badges = {
        r["badge_id"]
        for r in cloud.sql(
            "select badge_id from gym_members m join gyms g on g.id = m.gym_id where g.name <> %s",
            (HOME_GYM,),
        )
    }
    pages = [*MAIN_PAGES, "/dashboard/alerts?status=all", "/dashboard/members?sort=name"]
    own_member = cloud.sql(
        "select m.id from gym_members m join gyms g on g.id = m.gym_id where g.name = %s "
        "order by m.badge_id limit 1",
        (HOME_GYM,),
    )[0]["id"]
    pages.append(f"/dashboard/members/{own_member}")
    for path in pages:
        text = who.visit(path)
        for name in OTHER_GYMS:
            assert name not in text, f"{name} on {path}"
        leaked = [b for b in foreign_badges if b in text]
        assert leaked == [], f"another gym's badge on {path}"
        if "?" not in path and "members/" not in path:
            who.shoot(slug(path) + "-manager")
    for kind, ids in _other_gyms_ids(cloud).items():
        for target in ids:
            response = who.page.goto(f"/dashboard/{kind}/{target}")
            assert response is not None
            assert response.status == 404, f"/dashboard/{kind}/{target}"
            expect(who.page.get_by_role("heading", level=1)).to_have_text("Not found")
    # The same through the JSON API with the same person's token.
    token = next(c["value"] for c in who.context.cookies() if c["name"] == "jarvis-at")
    api = who.context.request
    member = _other_gyms_ids(cloud)["members"][0]
    assert (
        api.get(
            f"/api/dashboard/members/{member}", headers={"authorization": f"Bearer {token}"}
        ).status
        == 404
    )
    gyms = api.get(
        "/api/dashboard/franchise/comparison", headers={"authorization": f"Bearer {token}"}
    ).json()
    assert [g["name"] for g in gyms] == [HOME_GYM]


# -- working an alert ------------------------------------------------------------------------


def test_a_manager_resolves_an_alert_end_to_end(person: Any, cloud: CloudServer) -> None:
    alert = cloud.sql(
        "select a.id, a.title from manager_alerts a join gyms g on g.id = a.gym_id "
        "where g.name = %s and a.status = 'pending' "
        "order by a.alert_type = 'equipment_issue' desc, a.created_at desc limit 1",
        (HOME_GYM,),
    )[0]
    who = person(MANAGER)
    who.sign_in()
    who.page.goto("/dashboard/alerts")
    who.page.locator(f"#alert-{alert['id']} a").first.click()
    expect(who.page.get_by_role("heading", level=1)).to_have_text(alert["title"])
    who.shoot("alert")
    who.page.get_by_role("button", name="I'm on it").click()
    expect(who.page.get_by_role("status")).to_have_text("You are on it: the alert is in progress.")
    who.page.get_by_label("What was done").fill("Handled: member called back, all fine.")
    who.page.get_by_role("button", name="Resolve").click()
    expect(who.page.get_by_role("status")).to_have_text("The alert is resolved.")
    row = cloud.sql(
        "select status, resolution_notes, resolved_at from manager_alerts where id = %s",
        (alert["id"],),
    )[0]
    assert row["status"] == "resolved"
    assert row["resolution_notes"] == "Handled: member called back, all fine."
    assert row["resolved_at"] is not None
    changes = cloud.sql(
        "select l.details ->> 'to' as status, u.email from audit_log l "
        "join users u on u.id = l.actor_id where l.target_id = %s order by l.id",
        (str(alert["id"]),),
    )
    assert changes == [
        {"status": "in_progress", "email": MANAGER},
        {"status": "resolved", "email": MANAGER},
    ]


# -- kiosks, live -----------------------------------------------------------------------------


def test_a_kiosk_created_in_the_page_is_claimed_and_comes_online_live(
    person: Any, cloud: CloudServer, tmp_path: Path
) -> None:
    who = person(MANAGER)
    who.sign_in()
    watcher = who.context.new_page()  # the kiosks list stays open, never reloaded
    watcher.goto("/dashboard/kiosks")
    watcher.wait_for_function("document.body.dataset.liveReady === '1'")
    who.page.goto("/dashboard/kiosks")
    who.page.get_by_label("Name").fill("Browser test kiosk")
    who.page.get_by_label("Where in the gym").fill("Studio 2")
    who.page.get_by_role("button", name="Create the kiosk").click()
    code = who.page.locator("#provisioning-code").inner_text()
    who.shoot("kiosk-code")
    home = KioskHome(tmp_path / "kiosk")
    identity = home.provision(cloud.base_url, code)  # `jarvis-kiosk provision --code`
    row = watcher.locator(f"#kiosk-{identity.kiosk_id}")
    expect(row).to_be_visible()  # arrived live (created, then claimed)
    agent = home.start()
    try:
        expect(row.locator(".kiosk-status")).to_contain_text("online", timeout=30_000)
    finally:
        agent.stop()
    watcher.screenshot(path=str(SCREENSHOTS / "kiosks-live.png"), full_page=True)
    watcher.close()


def test_an_alert_raised_by_a_live_session_appears_without_reload(
    person: Any, cloud: CloudServer
) -> None:
    who = person(MANAGER)
    who.sign_in()
    who.page.goto("/dashboard/alerts")
    who.page.wait_for_function("document.body.dataset.liveReady === '1'")
    member = cloud.sql(
        "select m.id from gym_members m join gyms g on g.id = m.gym_id "
        "where g.slug = 'atlas-bordeaux-centre' and m.is_active "
        "and m.membership_expires_on > current_date + 10 order by m.badge_id limit 1"
    )[0]["id"]
    # Playwright's sync API runs an event loop in this thread; the helper runs its own.
    with ThreadPoolExecutor(1) as other_thread:
        _, headers = other_thread.submit(kiosk_headers, cloud, "atlas-bordeaux-centre").result()
    session = uuid.uuid4()
    assert start(cloud, headers, member, session).status_code == 200
    answer = httpx.post(
        f"{cloud.base_url}/api/jarvis/tools/report_equipment_issue",
        headers=headers,
        timeout=30,
        json={
            "session_id": str(session),
            "member_id": str(member),
            "call_id": "call_live",
            "arguments": {"equipment": "tapis de course 4", "problem": "la bande est bloquée"},
        },
    )
    assert answer.json()["ok"] is True, answer.text
    alert_id = answer.json()["output"]["alert_id"]
    row = who.page.locator(f"#alert-{alert_id}")
    expect(row).to_contain_text("tapis de course 4")
    expect(who.page.locator("#live .toast", has_text="New alert")).to_contain_text("tapis")
    who.shoot("alerts-live")


# -- member import -----------------------------------------------------------------------------


def test_an_import_with_errors_is_reported_then_the_fixed_file_imports(
    person: Any, tmp_path: Path, cloud: CloudServer
) -> None:
    who = person(MANAGER)
    who.sign_in()
    bad = tmp_path / "export.csv"
    bad.write_text(
        "N° adhérent;Prénom;Nom;N° badge;Date fin;Statut\n"
        "IMP-1;Noémie;Import;0B0B0B01;31/12/2027;actif\n"
        "IMP-2;;Sansnom;0B0B0B02;31/12/2027;actif\n"
        "IMP-3;Oscar;Import;ZZZ;31/12/2027;actif\n"
    )
    who.page.goto("/dashboard/members/import")
    who.page.get_by_label("CSV file").set_input_files(str(bad))
    who.page.get_by_role("button", name="Upload").click()
    expect(who.page.get_by_label("Badge (required)")).to_have_value("N° badge")
    who.shoot("import-mapping")
    who.page.get_by_role("button", name="3. Check the file (dry run)").click()
    problems = who.page.locator("#import-problems")
    expect(problems).to_contain_text("First name is empty")
    expect(problems.locator("tbody tr").first).to_contain_text("3")
    expect(problems.locator("tbody tr").nth(1)).to_contain_text("4")
    who.shoot("import-report")
    assert (
        cloud.sql("select count(*) as n from gym_members where external_id like 'IMP-%%'")[0]["n"]
        == 0
    )

    good = tmp_path / "export-fixed.csv"
    good.write_text(
        "N° adhérent;Prénom;Nom;N° badge;Date fin;Statut\n"
        "IMP-1;Noémie;Import;0B0B0B01;31/12/2027;actif\n"
        "IMP-2;Paul;Sansnom;0B0B0B02;31/12/2027;actif\n"
        "IMP-3;Oscar;Import;0B0B0B03;31/12/2027;suspendu\n"
    )
    who.page.goto("/dashboard/members/import")
    who.page.get_by_label("CSV file").set_input_files(str(good))
    who.page.get_by_role("button", name="Upload").click()
    who.page.get_by_role("button", name="Import now").click()
    expect(who.page.get_by_role("status")).to_contain_text("Imported: 3 new members")
    who.page.goto("/dashboard/members?q=Import")
    expect(who.page.locator("main table")).to_contain_text("Noémie Import")
    expect(who.page.locator("main table")).to_contain_text("Oscar Import")


# -- accessibility -----------------------------------------------------------------------------


def test_main_pages_have_no_serious_accessibility_violation(
    person: Any, cloud: CloudServer
) -> None:
    who = person(MANAGER)
    who.sign_in()
    member = cloud.sql(
        "select m.id from gym_members m join member_analytics a on a.member_id = m.id "
        "join gyms g on g.id = m.gym_id where g.name = %s order by a.churn_risk_score desc limit 1",
        (HOME_GYM,),
    )[0]["id"]
    session = cloud.sql(
        "select s.id from realtime_sessions s join gyms g on g.id = s.gym_id where g.name = %s "
        "order by s.started_at desc limit 1",
        (HOME_GYM,),
    )[0]["id"]
    pages = [*MAIN_PAGES, f"/dashboard/members/{member}", f"/dashboard/sessions/{session}"]
    failures = {}
    stranger = person("nobody@example.com")  # the sign-in page, signed out
    for viewer, path in [(stranger, "/login"), *((who, p) for p in pages)]:
        viewer.visit(path)
        if path == "/login":
            viewer.shoot("login")
        elif "/members/" in path or "/sessions/" in path:
            viewer.shoot(path.split("/")[2].rstrip("s") + "-detail")
        viewer.page.add_script_tag(path=str(AXE))
        result = viewer.page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        serious = [
            f"{v['id']}: {v['help']} ({len(v['nodes'])}×, e.g. {v['nodes'][0]['target']})"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        if serious:
            failures[path] = serious
    assert failures == {}
