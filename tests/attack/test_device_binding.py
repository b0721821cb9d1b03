"""Claiming a code binds the device to a kiosk of the code's gym, and never writes another
gym's row: a device id copied from another tenant's kiosk changes nothing there."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from contract import kiosk_api as api
from tests.cloud_server import CloudServer


def claim(cloud: CloudServer, code: str, device_id: str) -> httpx.Response:
    return httpx.post(
        cloud.base_url + api.PROVISION_CLAIM, json={"code": code, "device_id": device_id}
    )


def gym_rows(cloud: CloudServer, slug: str) -> dict[str, list[dict[str, Any]]]:
    """Everything of the gym that a claim could touch, in a stable order."""
    gym = "(select id from gyms where slug = %s)"
    return {
        "kiosks": cloud.sql(f"select * from kiosks where gym_id = {gym} order by id", (slug,)),
        "credentials": cloud.sql(
            f"select * from kiosk_credentials where gym_id = {gym} order by id", (slug,)
        ),
        "audit": cloud.sql(f"select * from audit_log where gym_id = {gym} order by id", (slug,)),
    }


def test_another_gyms_device_id_leaves_its_kiosk_alone(cloud: CloudServer) -> None:
    device = f"box-{uuid.uuid4().hex[:8]}"
    theirs = cloud.provision("gym-b", device_id=device)
    before = gym_rows(cloud, "gym-b")

    answer = claim(cloud, cloud.create_kiosk("gym-a", "Copycat"), device)

    assert answer.status_code == 201, answer.text
    assert gym_rows(cloud, "gym-b") == before
    heartbeat = httpx.post(
        cloud.base_url + api.HEARTBEAT,
        json={"software_version": "1.0"},
        headers={"Authorization": f"Bearer {cloud.kiosk_token(theirs)}"},
    )
    assert heartbeat.status_code == 200
    bound = cloud.sql(
        "select g.slug from kiosks k join gyms g on g.id = k.gym_id where k.device_id = %s "
        "order by g.slug",
        (device,),
    )
    assert [row["slug"] for row in bound] == ["gym-a", "gym-b"]
    noted = cloud.sql(
        "select gym_id, target_id from audit_log where action = 'kiosk.device_id_elsewhere' "
        "and details ->> 'device_id' = %s",
        (device,),
    )
    # For the platform's operators only: no gym on the row, so no gym's manager reads it.
    assert noted == [{"gym_id": None, "target_id": answer.json()["kiosk_id"]}]


def test_a_box_provisioned_again_in_its_gym_moves_its_device_id(cloud: CloudServer) -> None:
    device = f"box-{uuid.uuid4().hex[:8]}"
    first = cloud.provision("gym-a", device_id=device)

    answer = claim(cloud, cloud.create_kiosk("gym-a", "Replacement"), device)

    assert answer.status_code == 201, answer.text
    holders = cloud.sql("select id from kiosks where device_id = %s", (device,))
    assert [str(row["id"]) for row in holders] == [answer.json()["kiosk_id"]]
    released = cloud.sql(
        "select g.slug, a.details ->> 'now_bound_to' as now from audit_log a "
        "join gyms g on g.id = a.gym_id "
        "where a.action = 'kiosk.device_released' and a.target_id = %s",
        (first["kiosk_id"],),
    )
    assert released == [{"slug": "gym-a", "now": answer.json()["kiosk_id"]}]
