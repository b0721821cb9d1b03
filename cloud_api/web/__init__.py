"""The dashboard: server-rendered pages for gym staff, franchise owners and operators.

`install_web(app)` adds the pages, their static assets (served by the app: no CDN), the
live-update stream and the dashboard's headers to the API built by `create_app`.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from cloud_api.services import Services
from cloud_api.web.import_jobs import ImportJobs
from cloud_api.web.live import LiveHub
from cloud_api.web.middleware import DashboardHeaders
from cloud_api.web.render import STATIC, PageError, Redirect, Renderer


class WebRuntime:
    """What the dashboard runs beside the requests: live updates and member imports."""

    def __init__(self, services: Services) -> None:
        self.live = LiveHub(services)
        self.imports = ImportJobs(services.settings.data_dir / "imports", services.database)

    async def start(self) -> None:
        await self.live.start()

    async def stop(self) -> None:
        await self.imports.close()
        await self.live.stop()


def install_web(app: FastAPI, services: Services) -> WebRuntime:
    """Add the dashboard to `app`; the returned runtime runs during the app's lifespan."""
    from cloud_api.web.pages import admin, alerts, auth, franchise, gym, imports, kiosks, members
    from cloud_api.web.pages import sessions as conversations

    renderer = Renderer()
    runtime = WebRuntime(services)
    app.state.renderer = renderer
    app.state.web = runtime
    app.state.live = runtime.live
    app.state.imports = runtime.imports
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # Fixed paths before parametrised ones (/dashboard/members/import before /{member_id}),
    # and the catch-all 404 page last.
    for module in (auth, gym, imports, members, conversations, alerts, kiosks, franchise, admin):
        app.include_router(module.router)
    app.include_router(gym.fallback)
    app.add_middleware(DashboardHeaders)

    @app.exception_handler(PageError)
    async def _page_error(request: Request, exc: PageError) -> Response:
        return renderer.page(
            request,
            "error.html",
            {"title": exc.title, "message": exc.message, "code": exc.code},
            exc.status,
        )

    @app.exception_handler(Redirect)
    async def _redirect(_: Request, exc: Redirect) -> Response:
        return RedirectResponse(exc.url, status_code=303)

    return runtime
