"""Searching the gym's knowledge: its documents ranked by cosine similarity (pgvector).

A query is embedded once per embedder its gym's documents were embedded with (the local
embedder always; OpenAI's model when the cloud has a key), compared only with those
documents, and passages under the embedder's relevance floor are dropped. Passages in the
member's language come first (data in `cloud_api.data.knowledge`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import openai

from cloud_api.data import knowledge as data
from cloud_api.tools.arguments import SearchKnowledgeArgs
from cloud_api.tools.context import ToolContext, ToolFailure, ToolOutcome
from cloud_api.tools.embedding import LOCAL_MODEL, Embedder, LocalEmbedder, OpenAIEmbedder, pgvector
from cloud_api.voice.client_secret import scrub
from cloud_api.voice.spoken import say

log = logging.getLogger("jarvis.cloud.tools")
EXCERPT_CHARS = 600


def excerpt(body: str, limit: int = EXCERPT_CHARS) -> str:
    """The document's beginning, cut at a sentence end when it is too long to say."""
    text = re.sub(r"\s+", " ", body).strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
    return cut[: end + 1] if end > limit // 3 else cut.rstrip() + "…"


def embedder_for(model: str, ctx: ToolContext) -> Embedder | None:
    if model == LOCAL_MODEL:
        return LocalEmbedder()
    if ctx.openai is not None:
        return OpenAIEmbedder(ctx.openai, model)
    return None


async def search_knowledge(ctx: ToolContext, args: SearchKnowledgeArgs) -> ToolOutcome:
    language = ctx.caller.language
    models = await data.embedding_models(ctx.conn)
    usable = [e for e in (embedder_for(m, ctx) for m in models) if e is not None]
    if models and not usable:
        log.warning("knowledge search: documents embedded with %s but no OpenAI key", models)
        raise ToolFailure(say(language, "knowledge_unavailable"))
    found: list[dict[str, Any]] = []
    for embedder in usable:
        try:
            [vector] = await embedder.embed([args.query])
        except (openai.OpenAIError, ValueError) as exc:
            key = ctx.settings.openai_api_key
            reason = scrub(str(exc), key.get_secret_value() if key else "")
            log.warning("knowledge search: embedding with %s failed: %s", embedder.name, reason)
            raise ToolFailure(say(language, "knowledge_unavailable")) from exc
        rows = await data.nearest(ctx.conn, pgvector(vector), embedder.name, args.limit * 2)
        found += [r for r in rows if r["score"] >= embedder.min_score]
    member_language = ctx.caller.member_language or ctx.caller.kiosk_language
    found.sort(key=lambda r: (r["language"] != member_language, -r["score"]))
    return ToolOutcome(
        {
            "query": args.query,
            "results": [
                {
                    "title": r["title"],
                    "text": excerpt(r["body"]),
                    "language": r["language"],
                    "score": round(float(r["score"]), 3),
                }
                for r in found[: args.limit]
            ],
            "note": None
            if found
            else "Nothing in the gym's documents answers this: say so, and offer to ask staff.",
        }
    )
