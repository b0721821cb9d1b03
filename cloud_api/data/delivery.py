"""The delivery's SQL, run by the worker through private definer functions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from cloud_api.db.worker import WorkerConn


@dataclass(frozen=True)
class Delivery:
    id: UUID
    channel: str  # email | webhook
    address: str
    webhook_secret: str | None
    language: str
    payload: dict[str, Any]


async def alert_deliveries(conn: WorkerConn, alert_id: UUID) -> list[Delivery]:
    cur = await conn.execute("select * from private.worker_alert_deliveries(%s)", (alert_id,))
    return [_delivery(r, {"alert": r["alert"]}) for r in await cur.fetchall()]


async def digest_deliveries(conn: WorkerConn, day: date) -> list[Delivery]:
    cur = await conn.execute("select * from private.worker_digest_deliveries(%s)", (day,))
    return [_delivery(r, {"gym": r["gym"], "alerts": r["alerts"]}) for r in await cur.fetchall()]


def _delivery(row: Mapping[str, Any], payload: dict[str, Any]) -> Delivery:
    return Delivery(
        row["delivery_id"],
        row["channel"],
        row["address"],
        row["webhook_secret"],
        row["language"],
        payload,
    )


async def delivery_done(conn: WorkerConn, delivery_id: UUID, error: str | None) -> None:
    await conn.execute(
        "select private.worker_delivery_done(%s, %s, %s)", (delivery_id, error is None, error)
    )
