"""The operator's connection: the database owner, outside row-level security.

The CLI, the seeders, tests and benchmarks run the same data functions as the API's routes
(`cloud_api/data/`), but over this connection instead of a request's RLS-scoped one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from psycopg.rows import DictRow, dict_row


@asynccontextmanager
async def admin_transaction(url: str) -> AsyncIterator[psycopg.AsyncConnection[DictRow]]:
    """One transaction as the database owner (DATABASE_URL): commits on success."""
    connect = psycopg.AsyncConnection.connect(url, row_factory=dict_row)
    async with await connect as conn, conn.transaction():
        yield conn
