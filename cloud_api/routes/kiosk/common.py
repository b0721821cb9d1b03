"""What the kiosk routes share: the connection type, error docs, the caller's kiosk row."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import DictRow

from cloud_api.errors import error_responses
from contract import kiosk_api as api

Conn = psycopg.AsyncConnection[DictRow]
ERRORS = error_responses(401, 422, 429)


async def current_kiosk(conn: Conn) -> UUID | None:
    """The calling kiosk's id while its credential is valid (RLS's own view of it)."""
    cur = await conn.execute("select private.kiosk_id() as id")
    row = await cur.fetchone()
    return row["id"] if row else None


def kiosk_config(row: dict[str, Any]) -> api.KioskConfig:
    """The config a kiosk should run with, from its row."""
    return api.KioskConfig(
        voice=row["voice"], language=row["language"], openai_model=row["openai_model"]
    )
