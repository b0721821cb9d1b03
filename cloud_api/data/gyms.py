"""Gyms and franchises as the operator lists them."""

from __future__ import annotations

from typing import Any

from cloud_api.db.database import Conn


async def list_gyms(conn: Conn) -> list[dict[str, Any]]:
    """Every gym the connection may see, with its franchise and kiosk count."""
    cur = await conn.execute(
        "select g.slug, g.name, g.city, coalesce(f.slug, '(independent)') as franchise, "
        "g.status, (select count(*) from kiosks k where k.gym_id = g.id) as kiosks "
        "from gyms g left join franchises f on f.id = g.franchise_id order by g.slug"
    )
    return await cur.fetchall()


async def list_franchises(conn: Conn) -> list[dict[str, Any]]:
    """Every franchise the connection may see, with its gym count."""
    cur = await conn.execute(
        "select f.slug, f.name, f.city, f.status, f.subscription_plan as plan, "
        "(select count(*) from gyms g where g.franchise_id = f.id) as gyms "
        "from franchises f order by f.slug"
    )
    return await cur.fetchall()
