"""Manager alerts raised by the calling kiosk.

Kiosks have no insert right on alerts: `private.kiosk_raise_alert` creates one for the
kiosk's own gym only, for the alert types a kiosk may raise, and does not duplicate an alert
still open for the same subject (the equipment named, else the member; docs/PIPELINE.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from cloud_api.db.database import Conn


@dataclass(frozen=True)
class RaisedAlert:
    alert_id: UUID
    created: bool  # False: the same alert was already open


async def raise_alert(
    conn: Conn,
    *,
    alert_type: str,
    priority: str,
    title: str,
    description: str,
    member_id: UUID,
    context: dict[str, Any],
) -> RaisedAlert:
    cur = await conn.execute(
        "select alert_id, created from private.kiosk_raise_alert(%s, %s, %s, %s, %s, %s)",
        (alert_type, priority, title, description, member_id, json.dumps(context)),
    )
    row = await cur.fetchone()
    assert row is not None
    return RaisedAlert(row["alert_id"], row["created"])
