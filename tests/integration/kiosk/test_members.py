"""Member lookups against the real cloud, and the local cache answering while it is stopped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

import pytest

from contract.kiosk_api import MembershipStatus
from kiosk_agent.adapters.cloud import CloudClient, Credentials
from kiosk_agent.adapters.store_worker import StoreWorker
from kiosk_agent.config import CloudSection, StoreSection
from kiosk_agent.core.machine import MemberSource
from kiosk_agent.services.members import MemberDirectory
from tests.cloud_server import CloudServer


@dataclass
class Hooks:
    seen: list[str] = field(default_factory=list)

    def cloud_reachable(self) -> None:
        self.seen.append("reachable")

    def cloud_unreachable(self, reason: str) -> None:
        self.seen.append(f"unreachable: {reason}")

    def credential_rejected(self, reason: str) -> None:
        self.seen.append(f"rejected: {reason}")

    def error(self, message: str) -> None:
        self.seen.append(f"error: {message}")


@dataclass
class Kiosk:
    directory: MemberDirectory
    store: StoreWorker
    hooks: Hooks


@pytest.fixture
async def kiosk(cloud: CloudServer, tmp_path: Path) -> AsyncIterator[Kiosk]:
    claim = await asyncio.to_thread(cloud.provision, "gym-c")
    settings = CloudSection(connect_timeout_s=1.0, request_timeout_s=3.0)
    client = CloudClient(
        cloud.base_url,
        settings,
        credentials=Credentials(UUID(claim["kiosk_id"]), claim["credential"]),
    )
    store = StoreWorker(tmp_path / "kiosk.db", StoreSection())
    assert await store.open()
    hooks = Hooks()
    directory = MemberDirectory(store, client, hooks, lookup_timeout_s=2.0, sync_interval_s=300)
    try:
        yield Kiosk(directory, store, hooks)
    finally:
        await client.aclose()
        await store.close()
        if not cloud.running:
            cloud.start()


async def test_the_cloud_answers_first_and_the_cache_when_it_is_down(
    cloud: CloudServer, kiosk: Kiosk
) -> None:
    alice = await asyncio.to_thread(cloud.add_member, "gym-c", "0C0C0C01", "Alice")
    await asyncio.to_thread(cloud.add_member, "gym-c", "0C0C0C02", "Bruno", status="suspended")
    received = await kiosk.directory.sync()
    assert received >= 2
    card, source = await kiosk.directory.lookup("0C0C0C01")
    assert source is MemberSource.CLOUD
    assert card is not None
    assert (card.member_id, card.status, card.first_name) == (
        alice,
        MembershipStatus.ACTIVE,
        "Alice",
    )

    await asyncio.to_thread(cloud.stop)
    card, source = await kiosk.directory.lookup("0C0C0C01")
    assert source is MemberSource.CACHE
    assert card is not None
    assert card.member_id == alice
    assert card.status is MembershipStatus.ACTIVE
    suspended, source = await kiosk.directory.lookup("0C0C0C02")
    assert source is MemberSource.CACHE
    assert suspended is not None
    assert suspended.status is MembershipStatus.SUSPENDED
    stranger, source = await kiosk.directory.lookup("0DDDDDDD")
    assert source is MemberSource.CACHE  # the cache holds the whole gym: unknown is unknown
    assert stranger is not None
    assert stranger.status is MembershipStatus.UNKNOWN
    assert any(s.startswith("unreachable: nothing answers at") for s in kiosk.hooks.seen)

    await asyncio.to_thread(cloud.start)
    card, source = await kiosk.directory.lookup("0C0C0C01")
    assert source is MemberSource.CLOUD
    assert kiosk.hooks.seen[-1] == "reachable"


async def test_with_an_empty_cache_and_no_cloud_nobody_can_say(
    cloud: CloudServer, kiosk: Kiosk
) -> None:
    await asyncio.to_thread(cloud.stop)
    card, source = await kiosk.directory.lookup("0C0C0C01")
    assert (card, source) == (None, MemberSource.NONE)


async def test_the_sync_brings_only_what_changed_and_follows_status_changes(
    cloud: CloudServer, kiosk: Kiosk
) -> None:
    gone = await asyncio.to_thread(cloud.add_member, "gym-c", "0C0C0C04", "Leaving")
    assert await kiosk.directory.sync() >= 1
    assert await kiosk.store.read(lambda s: s.member("0C0C0C04")) is not None
    bob = await asyncio.to_thread(cloud.add_member, "gym-c", "0C0C0C03", "Bob")
    await asyncio.to_thread(cloud.add_member, "gym-a", "0A0C0C03", "Other gym")
    await kiosk.directory.sync()
    cached = await kiosk.store.read(lambda s: s.member("0C0C0C03"))
    assert cached is not None
    assert cached.member_id == bob
    assert await kiosk.store.read(lambda s: s.member("0A0C0C03")) is None  # not this gym's
    await asyncio.to_thread(
        cloud.sql,
        "update gym_members set is_active = false, updated_at = now() where id = %s",
        (bob,),
    )
    await asyncio.to_thread(cloud.sql, "delete from gym_members where id = %s", (gone,))
    await kiosk.directory.sync()
    cached = await kiosk.store.read(lambda s: s.member("0C0C0C03"))
    assert cached is not None
    assert cached.status is MembershipStatus.SUSPENDED
    removed = await kiosk.store.read(lambda s: s.member("0C0C0C04"))
    assert removed is not None
    assert removed.status is MembershipStatus.UNKNOWN  # a deleted member no longer gets in
