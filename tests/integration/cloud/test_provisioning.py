"""Provisioning and kiosk credentials against a real cloud on 127.0.0.1."""

from __future__ import annotations

import threading
import uuid

import httpx

from tests.cloud_server import CloudServer


def claim(cloud: CloudServer, code: str, device: str | None = None) -> httpx.Response:
    return httpx.post(
        f"{cloud.base_url}/api/kiosk/provision",
        json={
            "code": code,
            "device_id": device or uuid.uuid4().hex,
            "hardware_info": {"model": "Raspberry Pi 5"},
            "software_version": "0.1.0",
        },
    )


def token(cloud: CloudServer, kiosk_id: str, credential: str) -> httpx.Response:
    return httpx.post(
        f"{cloud.base_url}/api/kiosk/token", json={"kiosk_id": kiosk_id, "credential": credential}
    )


def heartbeat(cloud: CloudServer, access: str) -> httpx.Response:
    return httpx.post(
        f"{cloud.base_url}/api/kiosk/heartbeat",
        headers={"Authorization": f"Bearer {access}"},
        json={"software_version": "0.1.0"},
    )


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def test_claim_in_lower_case_with_dashes(cloud: CloudServer) -> None:
    code = cloud.create_kiosk("gym-a", "Entrée")
    typed = f" {code[:3].lower()}-{code[3:].lower()} "
    response = claim(cloud, typed, device="rpi-serial-0001")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["gym_slug"], body["kiosk_name"]) == ("gym-a", "Entrée")
    assert body["credential"].startswith("jkc_")
    assert body["config"]["language"] == "fr"
    row = cloud.sql(
        "select device_id, hardware_info, provisioned_at, provisioning_code_used_at "
        "from kiosks where id = %s",
        (body["kiosk_id"],),
    )[0]
    assert row["device_id"] == "rpi-serial-0001"
    assert row["hardware_info"] == {"model": "Raspberry Pi 5"}
    assert row["provisioning_code_used_at"] is not None
    stored = cloud.sql(
        "select secret_hash from kiosk_credentials where kiosk_id = %s", (body["kiosk_id"],)
    )
    assert len(stored) == 1
    assert body["credential"] not in str(stored)  # only its hash is kept
    actions = [
        r["action"]
        for r in cloud.sql(
            "select action from audit_log where target_id = %s order by id", (body["kiosk_id"],)
        )
    ]
    assert actions == ["kiosk.created", "kiosk.claimed"]


def test_wrong_malformed_reused_and_expired_codes(cloud: CloudServer) -> None:
    assert error_code(claim(cloud, "ZZZZZZ")) == "code_invalid"
    malformed = claim(cloud, "ABC")
    assert malformed.status_code == 422
    assert "6 characters" in malformed.json()["error"]["message"]

    code = cloud.create_kiosk("gym-a")
    assert claim(cloud, code).status_code == 201
    reused = claim(cloud, code)
    assert reused.status_code == 409
    assert error_code(reused) == "code_used"

    code = cloud.create_kiosk("gym-a")
    cloud.sql(
        "update kiosks set provisioning_code_expires_at = now() - interval '1 minute' "
        "where provisioning_code_used_at is null and provisioning_code_expires_at > now()"
    )
    expired = claim(cloud, code)
    assert expired.status_code == 410
    assert "expired" in expired.json()["error"]["message"]


def test_two_concurrent_claims_exactly_one_wins(cloud: CloudServer) -> None:
    code = cloud.create_kiosk("gym-a")
    results: list[int] = []
    barrier = threading.Barrier(8)

    def attempt(i: int) -> None:
        barrier.wait()
        results.append(claim(cloud, code, device=f"racer-{i}").status_code)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201] + [409] * 7


def test_token_exchange_and_revocation_on_next_request(cloud: CloudServer) -> None:
    kiosk = cloud.provision("gym-a")
    access = token(cloud, kiosk["kiosk_id"], kiosk["credential"])
    assert access.status_code == 200
    assert access.json()["expires_in"] == 300
    bearer = access.json()["access_token"]
    assert heartbeat(cloud, bearer).status_code == 200
    assert token(cloud, kiosk["kiosk_id"], "jkc_not-the-credential").status_code == 401

    cloud.add_user("manager.a@example.com", "gym_manager", gym_slug="gym-a")
    manager = cloud.user_token("manager.a@example.com")
    revoked = httpx.post(
        f"{cloud.base_url}/api/kiosks/{kiosk['kiosk_id']}/revoke",
        headers={"Authorization": f"Bearer {manager}"},
    )
    assert revoked.json() == {"revoked": 1}
    # The token has not expired, but the very next request is refused.
    refused = heartbeat(cloud, bearer)
    assert refused.status_code == 401
    assert error_code(refused) == "credential_revoked"
    assert token(cloud, kiosk["kiosk_id"], kiosk["credential"]).status_code == 401


def test_staff_cannot_revoke_and_other_gyms_cannot_see(cloud: CloudServer) -> None:
    kiosk = cloud.provision("gym-a")
    cloud.add_user("staff.a@example.com", "gym_staff", gym_slug="gym-a")
    cloud.add_user("manager.b@example.com", "gym_manager", gym_slug="gym-b")
    for email in ("staff.a@example.com", "manager.b@example.com"):
        user = cloud.user_token(email)
        response = httpx.post(
            f"{cloud.base_url}/api/kiosks/{kiosk['kiosk_id']}/revoke",
            headers={"Authorization": f"Bearer {user}"},
        )
        assert response.status_code == 404, email
    bearer = cloud.kiosk_token(kiosk)
    assert heartbeat(cloud, bearer).status_code == 200


def test_rotation_keeps_the_old_credential_for_the_overlap(cloud: CloudServer) -> None:
    kiosk = cloud.provision("gym-a")
    bearer = cloud.kiosk_token(kiosk)
    rotated = httpx.post(
        f"{cloud.base_url}/api/kiosk/credential/rotate",
        headers={"Authorization": f"Bearer {bearer}"},
    )
    assert rotated.status_code == 200, rotated.text
    new_credential = rotated.json()["credential"]
    assert new_credential != kiosk["credential"]
    assert token(cloud, kiosk["kiosk_id"], new_credential).status_code == 200
    assert token(cloud, kiosk["kiosk_id"], kiosk["credential"]).status_code == 200  # overlap
    # When the overlap ends, the old credential stops working; the new one goes on.
    cloud.sql(
        "update kiosk_credentials set expires_at = now() - interval '1 second' "
        "where kiosk_id = %s and expires_at is not null",
        (kiosk["kiosk_id"],),
    )
    assert token(cloud, kiosk["kiosk_id"], kiosk["credential"]).status_code == 401
    assert token(cloud, kiosk["kiosk_id"], new_credential).status_code == 200


def test_rotation_requested_from_the_dashboard_reaches_the_heartbeat(cloud: CloudServer) -> None:
    kiosk = cloud.provision("gym-b")
    cloud.add_user("manager.b2@example.com", "gym_manager", gym_slug="gym-b")
    manager = cloud.user_token("manager.b2@example.com")
    asked = httpx.post(
        f"{cloud.base_url}/api/kiosks/{kiosk['kiosk_id']}/rotate",
        headers={"Authorization": f"Bearer {manager}"},
    )
    assert asked.status_code == 202
    bearer = cloud.kiosk_token(kiosk)
    commands = heartbeat(cloud, bearer).json()["commands"]
    assert [c["kind"] for c in commands] == ["rotate_credential"]
    httpx.post(
        f"{cloud.base_url}/api/kiosk/credential/rotate",
        headers={"Authorization": f"Bearer {bearer}"},
    ).raise_for_status()
    assert heartbeat(cloud, bearer).json()["commands"] == []


def test_reprovisioning_revokes_the_old_credential(cloud: CloudServer) -> None:
    old = cloud.provision("gym-a", device_id="old-box")
    old_bearer = cloud.kiosk_token(old)
    new_code = cloud.new_code(uuid.UUID(old["kiosk_id"]))
    # Until the new code is claimed the old box keeps working, and is told what is coming.
    answer = heartbeat(cloud, old_bearer)
    assert [c["kind"] for c in answer.json()["commands"]] == ["reprovision"]
    again = claim(cloud, new_code, device="new-box")
    assert again.status_code == 201
    assert again.json()["kiosk_id"] == old["kiosk_id"]
    assert heartbeat(cloud, old_bearer).status_code == 401
    assert token(cloud, old["kiosk_id"], old["credential"]).status_code == 401
    fresh = token(cloud, old["kiosk_id"], again.json()["credential"])
    assert fresh.status_code == 200
    assert heartbeat(cloud, fresh.json()["access_token"]).json()["commands"] == []


def test_manager_creates_a_kiosk_through_the_api(cloud: CloudServer) -> None:
    cloud.add_user("manager.a2@example.com", "gym_manager", gym_slug="gym-a")
    manager = cloud.user_token("manager.a2@example.com")
    created = httpx.post(
        f"{cloud.base_url}/api/kiosks",
        headers={"Authorization": f"Bearer {manager}"},
        json={"gym_slug": "gym-a", "name": "Zone cardio"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert len(body["code"]) == 6
    assert body["code_display"] == f"{body['code'][:3]}-{body['code'][3:]}"
    assert claim(cloud, body["code"]).status_code == 201
    foreign = httpx.post(
        f"{cloud.base_url}/api/kiosks",
        headers={"Authorization": f"Bearer {manager}"},
        json={"gym_slug": "gym-b", "name": "Not mine"},
    )
    assert foreign.status_code == 404


# The attempt limits, used as an attacker would: tests/attack/test_claim_lockout.py.
