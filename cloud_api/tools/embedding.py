"""Text embeddings for the gym's knowledge: OpenAI when a key is configured, else local.

`document_embedder(settings)` embeds documents with OpenAI's `knowledge_embedding_model`
when the cloud has a key and locally otherwise; a query is embedded with whichever embedder
produced the documents it is compared with (see cloud_api/tools/knowledge.py).

The local embedder is a real, deterministic embedding that needs no network and no model
file: signed feature hashing (the "hashing trick") of accent-folded word unigrams, word
bigrams and character 3- and 4-grams of each word, with sublinear term frequency, into 1,536
dimensions, L2-normalized. Cosine similarity between two such vectors measures shared
vocabulary, robust to plurals, accents and small spelling changes (the character n-grams);
it does not know synonyms ("se garer" does not match "parking" unless a document uses both),
which is why the seeded documents are written with the words members use.

Every stored embedding names its embedder (`embedding_model`), and a query is compared only
with documents of the same embedder: vectors of two embedders live in different spaces.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

import numpy
from openai import AsyncOpenAI, OpenAI
from openai.types import CreateEmbeddingResponse

from cloud_api.config import CloudSettings

DIMENSIONS = 1536
LOCAL_MODEL = "local-hash-v1"

_WORD = re.compile(r"[a-z0-9]+")
# Function words of French and English: they would make every text look alike.
_STOPWORDS = """
    a au aux avec ce ces cet cette dans de des du elle en et eux il ils je la le les leur
    lui ma mais me meme mes moi mon ne nos notre nous on ou par pas pour qu que qui sa se
    ses son sur ta te tes toi ton tu un une vos votre vous c d j l m n s t y est sont ai as
    avez ont etre avoir fait faire peut peux puis quel quelle quels quelles comment quand
    ici il y est-ce ca cela
    the an and or of to in on at for is are was were be been it its this that these those
    with as by from my your our their me you we they he she his her them do does did can
    could would should will what which who how when where there here i am not no yes so
"""
STOPWORDS = frozenset(_STOPWORDS.split())
WEIGHT_WORD = 1.0
WEIGHT_BIGRAM = 0.7
WEIGHT_CHARGRAM = 0.25


class Embedder(Protocol):
    name: str
    min_score: float
    """Cosine similarity below which a passage is not considered relevant."""

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


def fold(text: str) -> str:
    """Lower case, accents removed ("Été" → "ete"), so spelling variants meet."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _stem(word: str) -> str:
    # Plurals are the commonest variation between a question and a document.
    if len(word) > 4 and word.endswith(("s", "x")):
        return word[:-1]
    return word


@functools.lru_cache(maxsize=1 << 16)
def _word_grams(word: str) -> tuple[str, ...]:
    """The character 3- and 4-grams of a word, as feature names (a member's words repeat)."""
    padded = f"<{word}>"
    return tuple("c:" + padded[i : i + n] for n in (3, 4) for i in range(len(padded) - n + 1))


def features(text: str) -> dict[str, float]:
    """Weighted hashed-feature names of a text (before hashing)."""
    words = _WORD.findall(fold(text))
    content = [_stem(w) for w in words if w not in STOPWORDS] or [_stem(w) for w in words]
    found: Counter[str] = Counter()
    weights: dict[str, float] = {}
    for word in content:
        found["w:" + word] += 1
        weights["w:" + word] = WEIGHT_WORD
        for key in _word_grams(word):
            found[key] += 1
            weights[key] = WEIGHT_CHARGRAM
    for left, right in itertools.pairwise(content):
        key = f"b:{left}_{right}"
        found[key] += 1
        weights[key] = WEIGHT_BIGRAM
    # Sublinear frequency: a word said five times is not five times as relevant.
    return {k: (1 + math.log(n)) * weights[k] for k, n in found.items()}


@functools.lru_cache(maxsize=1 << 18)
def _slot(feature: str) -> tuple[int, float]:
    # Cached: hashing is most of an embedding's cost, and words and n-grams recur.
    digest = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")
    return digest % DIMENSIONS, (1.0 if digest >> 63 else -1.0)


def local_embedding(text: str) -> list[float]:
    """The local embedding of one text: unit length, or all zeros for a text with no word."""
    # Accumulated sparsely (a text touches a few hundred of the 1,536 slots), in the same
    # order as a dense loop would, so every vector is bit-for-bit what it always was.
    slots: dict[int, float] = {}
    for feature, weight in features(text).items():
        index, sign = _slot(feature)
        slots[index] = slots.get(index, 0.0) + sign * weight
    norm = math.sqrt(sum(slots[i] * slots[i] for i in sorted(slots)))
    vector = numpy.zeros(DIMENSIONS)
    if norm:
        vector[list(slots)] = list(slots.values())
        vector /= norm
    return list(vector.tolist())


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


class DocumentEmbedder(Protocol):
    """Embeds documents when they are stored (synchronously: seeding and ingestion)."""

    name: str

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...


class LocalEmbedder:
    name = LOCAL_MODEL
    min_score = 0.1

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embed_documents(texts)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return [local_embedding(t) for t in texts]


def _request(model: str, texts: Sequence[str]) -> dict[str, Any]:
    request: dict[str, Any] = {"model": model, "input": list(texts)}
    if model.startswith("text-embedding-3"):  # the only models that can shorten their vectors
        request["dimensions"] = DIMENSIONS
    return request


def _vectors(response: CreateEmbeddingResponse, count: int, model: str) -> list[list[float]]:
    vectors = [item.embedding for item in sorted(response.data, key=lambda d: d.index)]
    if len(vectors) != count or any(len(v) != DIMENSIONS for v in vectors):
        raise ValueError(
            f"embedding model {model!r} did not return {count} vectors of {DIMENSIONS} dimensions"
        )
    return vectors


class OpenAIEmbedder:
    """OpenAI's embeddings endpoint for queries, on the app's shared client."""

    min_score = 0.2

    def __init__(self, client: AsyncOpenAI, model: str) -> None:
        self.client = client
        self.name = model

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        response = await self.client.embeddings.create(**_request(self.name, texts))
        return _vectors(response, len(texts), self.name)


class OpenAIDocumentEmbedder:
    """OpenAI's embeddings endpoint for documents, in batches, with a client of its own."""

    BATCH = 64

    def __init__(self, api_key: str, base_url: str | None, model: str, timeout_s: float) -> None:
        self.name = model
        self._client_args: dict[str, Any] = {
            "api_key": api_key,
            "base_url": base_url,
            "timeout": timeout_s,
        }

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        with OpenAI(**self._client_args) as client:
            for start in range(0, len(texts), self.BATCH):
                batch = texts[start : start + self.BATCH]
                response = client.embeddings.create(**_request(self.name, batch))
                vectors += _vectors(response, len(batch), self.name)
        return vectors


def document_embedder(settings: CloudSettings) -> DocumentEmbedder:
    """OpenAI's `knowledge_embedding_model` when the cloud has a key, else the local one."""
    if settings.openai_api_key is None:
        return LocalEmbedder()
    return OpenAIDocumentEmbedder(
        settings.openai_api_key.get_secret_value(),
        settings.openai_base_url,
        settings.knowledge_embedding_model,
        settings.voice_openai_timeout_s,
    )


def pgvector(vector: Sequence[float]) -> str:
    """A vector as pgvector's text input, for `%s::extensions.vector`."""
    # Most of a local embedding's 1,536 slots are zero: written without formatting.
    return "[" + ",".join("0" if x == 0 else f"{x:.7g}" for x in vector) + "]"
