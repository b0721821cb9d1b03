"""What `/health` asks the database: that it answers, and its clock."""

from __future__ import annotations

from datetime import datetime

from cloud_api.db.database import Conn


async def database_time(conn: Conn) -> datetime:
    row = await (await conn.execute("select now() as now")).fetchone()
    assert row is not None
    now: datetime = row["now"]
    return now
