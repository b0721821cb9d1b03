"""What every `jarvis-cloud` command shares: settings, the database, one-line errors."""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import psycopg
import typer
from pydantic import ValidationError

from cloud_api.config import CloudSettings
from cloud_api.db.admin import admin_transaction
from cloud_api.db.database import Conn
from cloud_api.db.errors import DatabaseError
from cloud_api.runtime import resolved_database

T = TypeVar("T")


def fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


def load_settings() -> CloudSettings:
    try:
        return CloudSettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "settings"
        raise fail(f"invalid setting {field}: {first['msg']}") from exc


@contextmanager
def database(settings: CloudSettings) -> Iterator[CloudSettings]:
    """Resolved settings for the block; every data-layer failure becomes one clear line."""
    try:
        with resolved_database(settings) as resolved:
            yield resolved
    except DatabaseError as exc:
        raise fail(str(exc)) from exc


def guarded(action: Callable[[], T]) -> T:
    try:
        return action()
    except DatabaseError as exc:
        raise fail(str(exc)) from exc
    except psycopg.Error as exc:
        raise fail(f"database error: {exc.diag.message_primary or exc}") from exc


def admin_work(settings: CloudSettings, work: Callable[[Conn], Awaitable[T]]) -> T:
    """Run data functions (`cloud_api.data`) in one transaction over the operator's connection
    (resolved settings' DATABASE_URL); database failures become one clear line."""
    url = settings.database_url
    assert url, "admin_work needs resolved settings"

    async def run() -> T:
        async with admin_transaction(url) as conn:
            return await work(conn)

    return guarded(lambda: asyncio.run(run()))


def ensure_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise fail(
                    f"port {port} on {host} is already in use: stop the other service or pass "
                    "--port"
                ) from exc
            raise fail(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
