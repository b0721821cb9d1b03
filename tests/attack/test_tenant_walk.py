"""The tenant walk: every operation of the OpenAPI spec, as every role, with the other tenant's
real ids. No answer is a 5xx, no answer carries the other tenant's data, and the other
tenant's rows are the same after the walk as before (read from the database).

Roles: anonymous, tenant A's kiosk, gym staff, gym manager and franchise owner (against
tenant B), tenant B's manager (against tenant A), and the super admin (who may touch
everything: only "no 5xx" applies; against a tenant of its own, as it revokes kiosks)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.attack.walk import Filler, Operation, operations
from tests.attack.world import Tenant, World, tenant_rows

# (who walks, the tenant whose token they use, the victim)
ROLES = (
    ("anonymous", None, "b"),
    ("kiosk", "a", "b"),
    ("gym_staff", "a", "b"),
    ("gym_manager", "a", "b"),
    ("franchise_owner", "a", "b"),
    ("gym_manager", "b", "a"),
    ("super_admin", None, "spare"),
)
# What the victim's own log rightly records about an attempt on its accounts.
SECURITY_EVENTS = {"user.sign_in_failed"}


def without_security_events(rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {
        table: [r for r in found if not (table == "audit_log" and r["action"] in SECURITY_EVENTS)]
        for table, found in rows.items()
    }


def headers(world: World, role: str, own: str | None) -> dict[str, str]:
    if role == "anonymous":
        return {}
    if role == "super_admin":
        return {"Authorization": f"Bearer {world.admin_token}"}
    assert own is not None
    return world.tenant(own).headers(role)


def walk(world: World, role: str, own: str | None, victim: Tenant) -> list[str]:
    """Every operation once; returns what went wrong."""
    spec = httpx.get(f"{world.cloud.base_url}/openapi.json").json()
    found = operations(spec)
    assert len(found) >= 17, [op.label for op in found]
    # A code of the walker's own gym (for anonymous, tenant A's: an installer has no token).
    code = world.cloud.create_kiosk(world.tenant(own or "a").gym_slug, f"Walk {role}")
    filler = Filler(spec, victim, code)
    problems = []
    with httpx.Client(base_url=world.cloud.base_url, timeout=30) as client:
        for operation in found:
            problems += check(client, filler, operation, headers(world, role, own), victim)
    return problems


def check(
    client: httpx.Client,
    filler: Filler,
    operation: Operation,
    auth: dict[str, str],
    victim: Tenant,
) -> list[str]:
    request = filler.request(operation)
    answer = client.request(
        request.method,
        request.url_path,
        params=request.params,
        json=request.body,
        headers=auth,
    )
    where = f"{operation.label} → {answer.status_code}"
    problems = []
    if answer.status_code >= 500:
        problems.append(f"{where}: server error {answer.text[:200]}")
    if victim.marker in answer.text:
        problems.append(f"{where}: the answer carries the other tenant's data")
    return problems


@pytest.mark.parametrize(
    ("role", "own", "victim"), ROLES, ids=[f"{r}-{o or ''}-vs-{v}" for r, o, v in ROLES]
)
def test_no_operation_crosses_tenants(
    world: World, role: str, own: str | None, victim: str
) -> None:
    target = world.spare_tenant() if victim == "spare" else world.tenant(victim)
    before = tenant_rows(world.cloud, target)

    problems = walk(world, role, own, target)

    assert problems == []
    if role != "super_admin":
        after = tenant_rows(world.cloud, target)
        assert without_security_events(after) == without_security_events(before)
