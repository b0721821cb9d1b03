"""A kiosk agent process that queues and uploads session records, for durability tests and the
outbox benchmark: ``python -m tests.integration.kiosk.outbox_child --total N``.

It runs the agent's own outbox machinery (the store worker and the uploader with the cloud
client) and plays the part of members finishing sessions: record ``i`` gets the id
``uuid5(seed, i)``, and is written in the same transaction that moves the ``loadgen_next``
counter, so a process killed at any instant resumes exactly where the store says it was: a
record is made once, and if the store accepted it, it must reach the cloud exactly once.

Settings come from the environment like the agent's (JARVIS_KIOSK_*); the kiosk must be
provisioned. Prints ``PRODUCED <seconds>`` once every record is queued, then
``DRAINED <delivered by this process> <seconds>`` and exits 0 once the outbox is empty
(seconds since the uploader started).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid5

from contract.kiosk_api import EndReason, SessionRecord, Turn
from contract.pricing import TokenUsage
from kiosk_agent.adapters.cloud import CloudClient, Credentials
from kiosk_agent.adapters.identity import load_identity
from kiosk_agent.adapters.store import KioskStore
from kiosk_agent.adapters.store_worker import StoreWorker
from kiosk_agent.config import load_settings
from kiosk_agent.services.uploader import Uploader

COUNTER = "loadgen_next"
NAMESPACE = UUID("6a1e0f4e-5b7c-4a53-9d0e-2f1c7b9a0d11")
BASE = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


def record_id(seed: str, index: int) -> UUID:
    return uuid5(NAMESPACE, f"{seed}/{index}")


def turns_of(index: int) -> int:
    return index % 4


def make_record(seed: str, index: int, members: list[str]) -> SessionRecord:
    started = BASE + timedelta(seconds=index)
    return SessionRecord(
        id=record_id(seed, index),
        member_id=UUID(members[index % len(members)]),
        started_at=started,
        ended_at=started + timedelta(seconds=30),
        end_reason=EndReason.GOODBYE,
        model="gpt-realtime-mini",
        voice="alloy",
        language="fr",
        usage=TokenUsage(input_audio_tokens=100 + index, output_audio_tokens=200),
        turns=[
            Turn(
                index=k, role="user" if k % 2 == 0 else "assistant", content=f"tour {k} de {index}"
            )
            for k in range(turns_of(index))
        ],
    )


class LogHooks:
    def cloud_reachable(self) -> None:
        pass

    def cloud_unreachable(self, reason: str) -> None:
        logging.getLogger("child").info("cloud unreachable: %s", reason)

    def credential_rejected(self, reason: str) -> None:
        logging.getLogger("child").error("credential rejected: %s", reason)

    def error(self, message: str) -> None:
        logging.getLogger("child").error("%s", message)


def _produce(record: SessionRecord, after: int) -> Callable[[KioskStore], None]:
    def write(store: KioskStore) -> None:
        with store.db.atomic():  # the record and the counter together, or neither
            store.enqueue_session(record)
            store.put({COUNTER: str(after)})

    return write


async def run(args: argparse.Namespace) -> int:
    settings = load_settings().settings
    identity = load_identity(settings.identity_path)
    if identity is None:
        print("the kiosk is not provisioned", file=sys.stderr)
        return 2
    members: list[str] = json.loads(os.environ["JARVIS_TEST_MEMBERS"])
    store = StoreWorker(settings.database_path, settings.store)
    if not await store.open():
        return 3
    client = CloudClient(
        identity.cloud_url,
        settings.cloud,
        credentials=Credentials(identity.kiosk_id, identity.credential.get_secret_value()),
    )
    uploader = Uploader(store, client, settings.outbox, LogHooks())
    began = time.perf_counter()
    uploading = asyncio.create_task(uploader.run()) if not args.no_upload else None
    rng = random.Random()
    while not args.no_produce:
        made = int(await store.read(lambda s: s.get(COUNTER) or "0"))
        if made >= args.total:
            break
        record = make_record(args.seed, made, members)
        await store.write(_produce(record, made + 1))
        uploader.wake()
        if args.pace_ms:
            await asyncio.sleep(rng.uniform(0, 2 * args.pace_ms) / 1000)
    print(f"PRODUCED {time.perf_counter() - began:.3f}", flush=True)
    if uploading is not None:
        while True:
            counts = await store.read(lambda s: s.outbox_counts())
            if counts.depth == 0:
                break
            await asyncio.sleep(0.02)  # the uploader runs meanwhile
        uploading.cancel()
        print(f"DRAINED {uploader.delivered} {time.perf_counter() - began:.3f}", flush=True)
    await client.aclose()
    await store.close()
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, required=True, help="records to make in all")
    parser.add_argument("--seed", default="durability", help="makes the record ids")
    parser.add_argument("--pace-ms", type=float, default=0.0, help="mean ms between records")
    parser.add_argument("--no-upload", action="store_true", help="only queue records")
    parser.add_argument("--no-produce", action="store_true", help="only deliver the outbox")
    logging.basicConfig(level=logging.WARNING, format="child %(levelname)s %(name)s: %(message)s")
    raise SystemExit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
