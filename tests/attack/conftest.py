"""The attack suite's world: two tenants on a running cloud (see world.py), one per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.attack.world import World, build_world
from tests.conftest import PostgresServer


@pytest.fixture(scope="module")
def world(postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from build_world(postgres, tmp_path_factory.mktemp("attack"))
