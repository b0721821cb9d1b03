"""Members for a kiosk: badge lookup, and the delta sync of its offline cache."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Query

from cloud_api.data import members
from cloud_api.data.identity import current_kiosk
from cloud_api.deps import KioskApi, ServicesDep, kiosk_revoked
from cloud_api.errors import ApiError
from cloud_api.routes.kiosk.common import ERRORS
from contract import kiosk_api as api
from contract.badge import BadgeIdError, normalize_badge_id
from contract.errors import ErrorCode

router = APIRouter(tags=["kiosk"])


def _card(row: dict[str, Any]) -> api.MemberCard:
    return api.MemberCard(
        badge_id=row["badge_id"],
        status=api.MembershipStatus(row["status"]),
        member_id=row["member_id"],
        first_name=row["first_name"],
        language=row["language"],
        preferences=api.MemberPreferences(
            communication_style=row["communication_style"] or "friendly",
            voice_preference=row["voice_preference"],
        ),
        membership_expires_on=row["membership_expires_on"],
    )


@router.get(
    api.MEMBER_BY_BADGE,
    response_model=api.MemberCard,
    responses=ERRORS,
    summary="Look a badge up in this kiosk's gym",
)
async def member_by_badge(badge_id: str, kiosk: KioskApi, services: ServicesDep) -> api.MemberCard:
    try:
        canonical = normalize_badge_id(badge_id)
    except BadgeIdError as exc:
        raise ApiError(ErrorCode.BADGE_MALFORMED, f"Invalid badge id: {exc}") from exc
    async with services.database.transaction(kiosk.claims) as conn:
        if await current_kiosk(conn) is None:
            raise kiosk_revoked()
        row = await members.card_by_badge(conn, canonical)
    if row is None:
        return api.MemberCard(badge_id=canonical, status=api.MembershipStatus.UNKNOWN)
    return _card(row)


# Rows changed in the last few seconds may belong to transactions that commit after later
# ones. A cursor therefore carries two positions per stream: where this round of pages goes
# on (`page`), and where the next round starts (`settled`, which never passes now() - SAFETY,
# so young rows are sent again next round rather than ever skipped). Kiosks upsert by badge.
SYNC_SAFETY = timedelta(seconds=10)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC).isoformat()
NIL = "00000000-0000-0000-0000-000000000000"
Position = list[Any]  # [timestamp iso, id]


def _decode_cursor(cursor: str | None) -> dict[str, Position | None]:
    start: dict[str, Position | None] = {"m": [EPOCH, NIL], "d": [EPOCH, 0], "pm": None, "pd": None}
    if not cursor:
        return start
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        decoded = {key: data.get(key) for key in start}
        for key in ("m", "pm"):
            if decoded[key] is not None or key == "m":
                datetime.fromisoformat(decoded[key][0])
                UUID(decoded[key][1])
        for key in ("d", "pd"):
            if decoded[key] is not None or key == "d":
                datetime.fromisoformat(decoded[key][0])
                int(decoded[key][1])
        return decoded
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise ApiError(
            ErrorCode.CURSOR_MALFORMED,
            "The sync cursor is not one this API issued: start again without it.",
        ) from exc


def _encode_cursor(position: dict[str, Position | None]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def _advance(
    rows: list[dict[str, Any]],
    time_key: str,
    id_key: str,
    settled: Position,
    limit: int,
    horizon: datetime,
) -> tuple[Position, Position | None]:
    """New settled position, and where the next page starts (None: this stream is done).
    Rows come after the scan position, itself at or after `settled`: both only move forward."""

    def at(row: dict[str, Any]) -> Position:
        ident = row[id_key]
        return [row[time_key].isoformat(), ident if isinstance(ident, int) else str(ident)]

    old = [r for r in rows if r[time_key] < horizon]
    return (at(old[-1]) if old else settled), (at(rows[-1]) if len(rows) == limit else None)


@router.get(
    api.MEMBER_SYNC,
    response_model=api.MemberSyncPage,
    responses=ERRORS,
    summary="Badges of this kiosk's gym changed since a cursor (offline cache)",
)
async def member_sync(
    kiosk: KioskApi,
    services: ServicesDep,
    cursor: str | None = Query(default=None, max_length=1000),
    limit: int = Query(default=500, ge=1, le=2000),
) -> api.MemberSyncPage:
    position = _decode_cursor(cursor)
    scan_m = position["pm"] or position["m"]
    scan_d = position["pd"] or position["d"]
    assert scan_m is not None
    assert scan_d is not None
    async with services.database.transaction(kiosk.claims) as conn:
        if await current_kiosk(conn) is None:
            raise kiosk_revoked()
        horizon = await members.settled_horizon(conn, SYNC_SAFETY)
        changed = await members.cards_changed_after(conn, scan_m[0], scan_m[1], limit)
        deletions = await members.badges_deleted_after(conn, scan_d[0], scan_d[1], limit)
    cards = [_card(row) for row in changed]
    live = {card.badge_id for card in cards}
    cards += [
        api.MemberCard(badge_id=d["badge_id"], status=api.MembershipStatus.UNKNOWN)
        for d in deletions
        if d["badge_id"] not in live
    ]
    settled_m, page_m = _advance(
        changed, "updated_at", "member_id", position["m"] or scan_m, limit, horizon
    )
    settled_d, page_d = _advance(
        deletions, "deleted_at", "id", position["d"] or scan_d, limit, horizon
    )
    next_position = {"m": settled_m, "d": settled_d, "pm": page_m, "pd": page_d}
    return api.MemberSyncPage(
        members=cards,
        next_cursor=_encode_cursor(next_position),
        has_more=page_m is not None or page_d is not None,
    )
