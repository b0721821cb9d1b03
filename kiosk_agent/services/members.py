"""Members: badge lookups and the delta sync that keeps the cache complete for offline days.

A lookup asks the cloud first and the local cache when it does not answer in time; with
``cache_first`` an active member the cache knows is answered at once (the voice start checks
the member with the cloud anyway, so the tap does not wait for a round trip), and anything
else still asks the cloud (a renewed membership, a new member)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from contract.errors import ErrorCode
from contract.kiosk_api import MemberCard, MembershipStatus
from kiosk_agent.adapters.cloud import CloudClient
from kiosk_agent.adapters.cloud_errors import CloudError
from kiosk_agent.adapters.store import KioskStore
from kiosk_agent.adapters.store_base import StoreError
from kiosk_agent.adapters.store_worker import StoreWorker
from kiosk_agent.core.machine import MemberSource
from kiosk_agent.services.hooks import AgentHooks, report

logger = logging.getLogger(__name__)

SYNC_PAGE = 500


class MemberDirectory:
    def __init__(
        self,
        store: StoreWorker,
        client: CloudClient,
        hooks: AgentHooks,
        *,
        lookup_timeout_s: float,
        sync_interval_s: float,
        cache_first: bool = False,
    ) -> None:
        self._store = store
        self._client = client
        self._hooks = hooks
        self._lookup_timeout_s = lookup_timeout_s
        self.sync_interval_s = sync_interval_s
        self.cache_first = cache_first
        self._sync_now = asyncio.Event()
        self.last_sync: datetime | None = None

    async def lookup(self, badge_id: str) -> tuple[MemberCard | None, MemberSource]:
        """The member for the badge, and who answered."""
        if self.cache_first:
            try:
                known = await self._store.read(lambda s: s.member(badge_id))
            except StoreError:
                known = None
            if known is not None and known.status is MembershipStatus.ACTIVE and known.member_id:
                return known, MemberSource.LOCAL
        try:
            async with asyncio.timeout(self._lookup_timeout_s):
                card = await self._client.member_by_badge(
                    badge_id, timeout_s=self._lookup_timeout_s
                )
        except TimeoutError:
            self._hooks.cloud_unreachable(
                f"the cloud did not answer a badge lookup within {self._lookup_timeout_s:g} s"
            )
        except CloudError as exc:
            report(self._hooks, exc, "badge lookup")
        else:
            self._hooks.cloud_reachable()
            # The cache is a convenience here; the store worker reports any trouble.
            with contextlib.suppress(StoreError):
                await self._store.write(lambda s: s.save_members([card], cursor=None))
            return card, MemberSource.CLOUD
        return await self._from_cache(badge_id)

    async def _from_cache(self, badge_id: str) -> tuple[MemberCard | None, MemberSource]:
        def find(store: KioskStore) -> tuple[MemberCard | None, bool]:
            return store.member(badge_id), store.member_synced_at() is not None

        try:
            card, synced = await self._store.read(find)
        except StoreError:
            return None, MemberSource.NONE
        if card is not None:
            return card, MemberSource.CACHE
        if synced:
            # The cache holds the whole gym: a badge it does not know is unknown.
            return MemberCard(badge_id=badge_id, status=MembershipStatus.UNKNOWN), (
                MemberSource.CACHE
            )
        return None, MemberSource.NONE

    def sync_soon(self) -> None:
        self._sync_now.set()

    async def run(self) -> None:
        while True:
            self._sync_now.clear()
            await self.sync()
            try:
                async with asyncio.timeout(self.sync_interval_s):
                    await self._sync_now.wait()
            except TimeoutError:
                pass

    async def sync(self) -> int:
        """Fetch every change since the last sync into the cache; returns cards received."""
        received = 0
        cursor: str | None = None
        try:
            cursor = await self._store.read(lambda s: s.member_cursor())
            while True:
                page = await self._client.member_sync(cursor, limit=SYNC_PAGE)
                cursor = page.next_cursor
                await self._store.write(_saver(page.members, page.next_cursor))
                received += len(page.members)
                if not page.has_more:
                    break
        except CloudError as exc:
            if exc.error_code is ErrorCode.CURSOR_MALFORMED and cursor is not None:
                # A cloud that no longer reads this kiosk's cursor (its format changed): start
                # over rather than be refused forever.
                logger.warning("the cloud refused the member sync cursor: syncing from scratch")
                with contextlib.suppress(StoreError):
                    await self._store.write(lambda s: s.forget_member_cursor())
                    self.sync_soon()
                return received
            report(self._hooks, exc, "member sync")
            return received
        except StoreError:
            return received
        self._hooks.cloud_reachable()
        self.last_sync = datetime.now(UTC)
        if received:
            logger.info("member cache: %d change(s) synced", received)
        return received


def _saver(cards: list[MemberCard], cursor: str) -> Callable[[KioskStore], None]:
    def save(store: KioskStore) -> None:
        store.save_members(cards, cursor=cursor)

    return save
