"""Resolve where the cloud's database is: the embedded default or DATABASE_URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import SecretStr

from cloud_api.config import CloudSettings
from cloud_api.db.embedded import API_ROLE, WORKER_ROLE, EmbeddedPostgres, with_params
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
            update={
                "api_database_url": settings.api_database_url or derive_api_url(settings),
                "worker_database_url": settings.worker_database_url
                or derive_role_url(settings, WORKER_ROLE, settings.worker_db_password),
            }
        )
        return
    embedded = EmbeddedPostgres(settings.data_dir)
    admin_url = embedded.start()
    try:
        yield settings.model_copy(
            update={
                "database_url": admin_url,
                "api_database_url": settings.api_database_url or embedded.api_url(admin_url),
                "worker_database_url": settings.worker_database_url
                or with_params(admin_url, user=WORKER_ROLE, password=""),
            }
        )
    finally:
        embedded.stop()


def derive_api_url(settings: CloudSettings) -> str:
    """DATABASE_URL with the user replaced by the API's login role."""
    return derive_role_url(settings, API_ROLE, settings.api_db_password)


def derive_role_url(settings: CloudSettings, role: str, password: SecretStr | None) -> str:
    """DATABASE_URL with the user replaced by one of the cloud's login roles."""
    assert settings.database_url
    parse_conninfo(settings.database_url)  # a clear error for a malformed URL
    return with_params(
        settings.database_url,
        user=role,
        password=password.get_secret_value() if password is not None else "",
    )
