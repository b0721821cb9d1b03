"""The attack suite's world: two tenants on a running cloud (see world.py), shared by its
modules (none of them changes what another relies on: destructive walks get a tenant of their
own, `World.spare_tenant`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.attack.world import World, build_world
from tests.cloud_server import CloudServer
from tests.conftest import PostgresServer


@pytest.fixture(scope="package")
def world(postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from build_world(postgres, tmp_path_factory.mktemp("attack"))


@pytest.fixture(scope="package")
def cloud(world: World) -> CloudServer:
    """The world's cloud (tests/conftest.py's `cloud` would start one more per module)."""
    return world.cloud
