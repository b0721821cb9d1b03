"""The gym's knowledge documents, searched by cosine similarity (pgvector).

The HNSW index is searched with pgvector's iterative scan in strict order, so filtering on
the gym never loses the nearest documents.
"""

from __future__ import annotations

from typing import Any

from cloud_api.db.database import Conn

SEARCH_SQL = """
select id, title, body, language,
    1 - (embedding operator(extensions.<=>) %(query)s::extensions.vector) as score
from knowledge_documents
where gym_id = (select private.kiosk_gym_id()) and embedding_model = %(model)s
order by embedding operator(extensions.<=>) %(query)s::extensions.vector
limit %(limit)s
"""


async def embedding_models(conn: Conn) -> list[str]:
    """The embedders the calling kiosk's gym documents were embedded with."""
    cur = await conn.execute(
        "select distinct embedding_model from knowledge_documents "
        "where gym_id = (select private.kiosk_gym_id()) and embedding_model is not null"
    )
    return [row["embedding_model"] for row in await cur.fetchall()]


async def nearest(conn: Conn, vector: str, model: str, limit: int) -> list[dict[str, Any]]:
    """The gym's documents embedded with `model` nearest to `vector` (pgvector text), with
    their cosine similarity as `score`."""
    await conn.execute("select set_config('hnsw.iterative_scan', 'strict_order', true)")
    cur = await conn.execute(SEARCH_SQL, {"query": vector, "model": model, "limit": limit})
    return await cur.fetchall()
