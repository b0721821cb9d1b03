"""The FastAPI application, built entirely by `create_app(settings)`: nothing at import time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request

from cloud_api.bodylimit import BodyLimit
from cloud_api.config import CloudSettings
from cloud_api.data.health import database_time
from cloud_api.db.database import Database
from cloud_api.errors import install_error_handlers
from cloud_api.openapi import document_statuses
from cloud_api.ratelimit import sweep_forever
from cloud_api.routes import auth, dashboard, kiosk, kiosk_admin, tools, voice
from cloud_api.services import Services, build_services
from cloud_api.web import install_web
from contract.kiosk_api import BODY_LIMITS, HEALTH, SERVICE_NAME

VERSION = "0.1.0"
# Bodies of calls not listed in BODY_LIMITS (dashboards, sign-in, kiosk management).
DEFAULT_BODY_LIMIT = 64 * 1024


def create_app(settings: CloudSettings) -> FastAPI:
    """Build the API for resolved settings (`api_database_url` must be set)."""
    if not settings.api_database_url:
        raise ValueError("create_app needs settings with api_database_url resolved")
    database = Database(
        settings.api_database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
    )
    services = build_services(settings, database)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await database.open()
        sweeper = asyncio.create_task(sweep_forever(database, settings.rate_limit_sweep_s))
        await app.state.web.start()  # the dashboard's live updates (LISTEN)
        try:
            yield
        finally:
            await app.state.web.stop()
            sweeper.cancel()
            await asyncio.gather(sweeper, return_exceptions=True)
            await services.http.aclose()
            await database.close()

    app = FastAPI(
        title="JARVIS cloud API",
        version=VERSION,
        description=(
            "Provisioning, heartbeats, sessions, tools and dashboards for JARVIS gym kiosks. "
            "Every request runs in one Postgres transaction under the caller's claims, so "
            "row-level security decides what it touches."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.services = services
    install_error_handlers(app)
    app.add_middleware(BodyLimit, default=DEFAULT_BODY_LIMIT, limits=BODY_LIMITS)
    app.include_router(kiosk.router)
    app.include_router(kiosk_admin.router)
    app.include_router(auth.router)
    app.include_router(voice.router)
    app.include_router(tools.router)
    app.include_router(dashboard.router)
    install_web(app, services)
    document_statuses(app)

    @app.get(HEALTH, tags=["operations"], summary="Liveness and database reachability")
    async def health(request: Request) -> dict[str, Any]:
        services: Services = request.app.state.services
        async with services.database.transaction(None) as conn:
            now = await database_time(conn)
        return {
            "service": SERVICE_NAME,
            "status": "ok",
            "version": VERSION,
            "database": "ok",
            "time": now,
        }

    return app
