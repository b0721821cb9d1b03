"""Delivers the outbox: the delivery policy (core.outbox) driven over the store and the client.

Records leave the outbox only when the cloud has answered for them: ``stored`` and
``duplicate`` delete them, ``rejected`` sets them aside. Anything else (no answer, a lost
answer, a crash between the answer and the deletion) leaves them to be sent again, and the
cloud's idempotency on the kiosk-made id makes the repeat harmless: at least once on the
wire, exactly once in effect. Session records go before events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from contract.backoff import Backoff
from contract.errors import ErrorCode
from contract.kiosk_api import BatchResult, KioskEvent, SessionRecord, UploadOutcome
from kiosk_agent.adapters.cloud import CloudClient
from kiosk_agent.adapters.cloud_errors import (
    CloudError,
    CloudUnreachable,
    CredentialRejected,
    NotJarvisCloud,
)
from kiosk_agent.adapters.store import OutboxItem
from kiosk_agent.adapters.store_base import RecordKind, StoreError
from kiosk_agent.adapters.store_worker import StoreWorker
from kiosk_agent.config import OutboxSection
from kiosk_agent.core.outbox import Failure, OutboxPolicy
from kiosk_agent.services.hooks import AgentHooks, is_outage

logger = logging.getLogger(__name__)

_STORE_RETRY_S = 5.0


@dataclass(frozen=True, slots=True)
class RoundResult:
    sent: int = 0
    delivered: int = 0
    refused: int = 0
    failed: bool = False


# What a refused upload means for the outbox, by the cloud's code.
_FAILURES: Mapping[ErrorCode, Failure] = {
    ErrorCode.VALIDATION_FAILED: Failure.BATCH_REFUSED,
    ErrorCode.INVALID_VALUE: Failure.BATCH_REFUSED,
    ErrorCode.MISSING_TOKEN: Failure.AUTH,
    ErrorCode.INVALID_TOKEN: Failure.AUTH,
    ErrorCode.TOKEN_EXPIRED: Failure.AUTH,
    ErrorCode.CREDENTIAL_REVOKED: Failure.AUTH,
    ErrorCode.FORBIDDEN: Failure.AUTH,
    ErrorCode.RATE_LIMITED: Failure.RATE_LIMITED,
}
# A code this kiosk does not know (a newer cloud): what its status says. 413 is a batch too
# large for a proxy in front of the cloud; anything else is the cloud's trouble, retried.
_FAILURES_BY_STATUS: Mapping[int, Failure] = {
    400: Failure.BATCH_REFUSED,
    413: Failure.BATCH_REFUSED,
    422: Failure.BATCH_REFUSED,
    401: Failure.AUTH,
    403: Failure.AUTH,
    429: Failure.RATE_LIMITED,
}


def classify(exc: CloudError) -> Failure:
    """What a failed upload means for the delivery policy."""
    if isinstance(exc, CredentialRejected):
        return Failure.AUTH
    if isinstance(exc, CloudUnreachable):
        return Failure.UNREACHABLE
    if isinstance(exc, NotJarvisCloud):
        return Failure.UNAVAILABLE  # not the cloud's answer: never set records aside for it
    known = exc.error_code
    if known is not None and known in _FAILURES:
        return _FAILURES[known]
    return _FAILURES_BY_STATUS.get(exc.status or 0, Failure.UNAVAILABLE)


class Uploader:
    def __init__(
        self,
        store: StoreWorker,
        client: CloudClient,
        settings: OutboxSection,
        hooks: AgentHooks,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._client = client
        self._settings = settings
        self._hooks = hooks
        self._clock = clock
        backoff = Backoff(settings.backoff_initial_s, settings.backoff_max_s)
        shared = rng or random.Random()
        self._policies = {
            RecordKind.SESSION: OutboxPolicy(backoff, settings.batch_size, shared),
            RecordKind.EVENT: OutboxPolicy(backoff, settings.event_batch_size, shared),
        }
        self._not_before = 0.0
        self._wake = asyncio.Event()
        self.delivered = 0
        self.refused = 0

    def wake(self) -> None:
        """A record was just written: send it without waiting for the next poll."""
        self._wake.set()

    def set_session_batch(self, size: int) -> None:
        self._policies[RecordKind.SESSION].set_max_batch(min(size, self._settings.batch_size))

    @property
    def waiting_s(self) -> float:
        """Seconds until the next attempt is allowed (0 when not backing off)."""
        return max(0.0, self._not_before - self._clock())

    async def run(self) -> None:
        """Deliver forever: a round, then wait for a wake, a backoff's end or the poll."""
        while True:
            self._wake.clear()
            busy = False
            if self._clock() >= self._not_before:
                for kind in (RecordKind.SESSION, RecordKind.EVENT):
                    result = await self.round(kind)
                    busy = busy or result.sent > 0
                    if result.failed:
                        break
            if busy and self._clock() >= self._not_before:
                continue  # more may wait, or a refused batch is retried smaller at once
            wait = self._settings.poll_interval_s
            if self._not_before > self._clock():
                wait = self._not_before - self._clock()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()
                    if self._not_before > self._clock():
                        # A new record during a backoff waits for the backoff's end.
                        await asyncio.sleep(self._not_before - self._clock())

    async def drain(self) -> int:
        """Send until the outbox is empty or an attempt fails; returns records delivered."""
        delivered = 0
        for kind in (RecordKind.SESSION, RecordKind.EVENT):
            while True:
                result = await self.round(kind)
                delivered += result.delivered
                if result.failed or result.sent == 0:
                    break
        return delivered

    async def round(self, kind: RecordKind) -> RoundResult:
        """Send one batch of ``kind``; never raises for cloud or store trouble."""
        try:
            return await self._round(kind)
        except StoreError:
            # Undelivered records stay where they are; the store worker reports the trouble.
            self._store_trouble()
            return RoundResult(failed=True)

    async def _round(self, kind: RecordKind) -> RoundResult:
        policy = self._policies[kind]
        items = await self._store.read(lambda s: s.pending(kind, policy.batch_size()))
        if not items:
            return RoundResult()
        parsed, unreadable = _parse(kind, items)
        if unreadable:
            await self._set_aside(unreadable)
        if not parsed:
            return RoundResult(refused=len(unreadable))
        ids = [item.id for item, _ in parsed]
        try:
            if kind is RecordKind.SESSION:
                answer = await self._client.upload_sessions(
                    [m for _, m in parsed if isinstance(m, SessionRecord)]
                )
            else:
                answer = await self._client.upload_events(
                    [m for _, m in parsed if isinstance(m, KioskEvent)]
                )
        except CloudError as exc:
            await self._failed(kind, policy, exc, ids)
            return RoundResult(sent=len(ids), failed=True)
        self._hooks.cloud_reachable()
        policy.delivered()
        return await self._settle(answer, set(ids), len(unreadable))

    async def _settle(self, answer: BatchResult, sent: set[str], unreadable: int) -> RoundResult:
        done = [str(r.id) for r in answer.results if r.outcome is not UploadOutcome.REJECTED]
        refused = [
            (str(r.id), f"refused by the cloud: {r.message or 'no reason given'}")
            for r in answer.results
            if r.outcome is UploadOutcome.REJECTED
        ]
        done = [i for i in done if i in sent]
        refused = [(i, why) for i, why in refused if i in sent]
        # If this fails the records stay in the outbox and go again: the cloud answers
        # "duplicate" for them.
        await self._store.write(lambda s: s.mark_delivered(done))
        if refused:
            await self._set_aside(refused)
        self.delivered += len(done)
        return RoundResult(sent=len(sent), delivered=len(done), refused=len(refused) + unreadable)

    def _store_trouble(self) -> None:
        self._not_before = max(self._not_before, self._clock() + _STORE_RETRY_S)

    async def _failed(
        self, kind: RecordKind, policy: OutboxPolicy, exc: CloudError, ids: Sequence[str]
    ) -> None:
        failure = classify(exc)
        decision = policy.failed(failure, len(ids), exc.retry_after_s)
        if decision.set_aside:
            await self._set_aside([(ids[0], f"refused by the cloud: {exc}")])
        if decision.wait_s > 0:
            self._not_before = max(self._not_before, self._clock() + decision.wait_s)
            logger.warning(
                "uploading %d %s record(s) failed (%s); next attempt in %.1f s",
                len(ids),
                kind.value,
                exc,
                decision.wait_s,
            )
        if isinstance(exc, CredentialRejected):
            self._hooks.credential_rejected(str(exc))
        elif is_outage(exc):
            self._hooks.cloud_unreachable(str(exc))
        with contextlib.suppress(StoreError):
            await self._store.write(lambda s: s.note_failed_attempt(ids, str(exc)))

    async def _set_aside(self, refusals: Sequence[tuple[str, str]]) -> None:
        for record_id, why in refusals:
            logger.error("outbox record %s set aside: %s", record_id, why)
            self._hooks.error(f"an outbox record was set aside: {why}")
        await self._store.write(lambda s: s.mark_refused(refusals))
        self.refused += len(refusals)


def _parse(
    kind: RecordKind, items: Sequence[OutboxItem]
) -> tuple[list[tuple[OutboxItem, SessionRecord | KioskEvent]], list[tuple[str, str]]]:
    parsed: list[tuple[OutboxItem, SessionRecord | KioskEvent]] = []
    unreadable: list[tuple[str, str]] = []
    for item in items:
        try:
            model: SessionRecord | KioskEvent = (
                SessionRecord.model_validate_json(item.payload)
                if kind is RecordKind.SESSION
                else KioskEvent.model_validate_json(item.payload)
            )
        except ValidationError as exc:
            unreadable.append((item.id, f"the stored record cannot be read: {exc.errors()[0]}"))
            continue
        parsed.append((item, model))
    return parsed, unreadable
