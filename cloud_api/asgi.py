"""ASGI entry point for multi-process serving: `uvicorn cloud_api.asgi:app --factory`.

Each worker builds its app from the environment (DATABASE_URL / JARVIS_API_DATABASE_URL must
name a running database; `jarvis-cloud serve --workers N` sets them).
"""

from __future__ import annotations

from fastapi import FastAPI

from cloud_api.app import create_app
from cloud_api.config import CloudSettings
from cloud_api.runtime import derive_api_url


def app() -> FastAPI:
    settings = CloudSettings()
    if not settings.database_url:
        raise RuntimeError("cloud_api.asgi needs DATABASE_URL; use `jarvis-cloud serve` instead")
    if not settings.api_database_url:
        settings = settings.model_copy(update={"api_database_url": derive_api_url(settings)})
    return create_app(settings)
