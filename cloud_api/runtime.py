"""Resolve where the cloud's database is: the embedded default or DATABASE_URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from cloud_api.config import CloudSettings
from cloud_api.db.embedded import API_ROLE, EmbeddedPostgres, with_params
from cloud_api.db.probe import check_reachable, parse_conninfo


@contextmanager
def resolved_database(settings: CloudSettings) -> Iterator[CloudSettings]:
    """Yield settings whose `database_url` and `api_database_url` are both set.

    With no DATABASE_URL the embedded Postgres is started for the duration of the block
    and stopped cleanly afterwards (unless another process still uses it).
    """
    if settings.database_url:
        check_reachable(settings.database_url)
        yield settings.model_copy(
            update={"api_database_url": settings.api_database_url or derive_api_url(settings)}
        )
        return
    embedded = EmbeddedPostgres(settings.data_dir)
    admin_url = embedded.start()
    try:
        yield settings.model_copy(
            update={
                "database_url": admin_url,
                "api_database_url": settings.api_database_url or embedded.api_url(admin_url),
            }
        )
    finally:
        embedded.stop()


def derive_api_url(settings: CloudSettings) -> str:
    """DATABASE_URL with the user replaced by the API's login role."""
    assert settings.database_url
    parse_conninfo(settings.database_url)  # a clear error for a malformed URL
    password = settings.api_db_password
    return with_params(
        settings.database_url,
        user=API_ROLE,
        password=password.get_secret_value() if password is not None else "",
    )
