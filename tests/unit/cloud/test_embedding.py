"""The local embedding: deterministic, unit length, ranks by shared vocabulary."""

from __future__ import annotations

import math

import pytest

from cloud_api.seed.tools import DOCUMENTS
from cloud_api.tools.embedding import (
    DIMENSIONS,
    LocalEmbedder,
    cosine,
    features,
    fold,
    local_embedding,
    pgvector,
)


def test_deterministic_and_unit_length() -> None:
    a = local_embedding("Les douches sont au sous-sol.")
    assert a == local_embedding("Les douches sont au sous-sol.")
    assert len(a) == DIMENSIONS
    assert math.isclose(math.sqrt(sum(x * x for x in a)), 1.0, rel_tol=1e-9)
    assert local_embedding("") == [0.0] * DIMENSIONS
    assert local_embedding("?!") == [0.0] * DIMENSIONS


def test_accents_case_and_plurals_meet() -> None:
    assert fold("Été À LA Plage") == "ete a la plage"
    assert cosine(local_embedding("Les DOUCHES"), local_embedding("une douche")) > 0.8
    assert "w:douche" in features("les douches")


def test_stopwords_do_not_make_texts_alike_but_a_stopword_only_text_still_embeds() -> None:
    assert "w:le" not in features("le parking")
    assert any(k.startswith("w:") for k in features("le la les"))
    unrelated = cosine(
        local_embedding("est-ce que vous avez le"), local_embedding("Le parking est gratuit.")
    )
    assert unrelated < 0.1


@pytest.mark.parametrize(
    ("language", "question", "title"),
    [
        ("fr", "Est-ce qu'il y a des douches chaudes ?", "Vestiaires et douches"),
        ("fr", "Je peux me garer où ?", "Parking et accès"),
        ("fr", "combien coûte l'abonnement étudiant", "Tarifs et abonnements"),
        ("fr", "je voudrais un bilan avec un coach", "Coaching personnel"),
        ("en", "where are the showers", "Changing rooms and showers"),
        ("en", "what is the wifi password", "Wi-Fi"),
        ("en", "do I need a towel", "Towel and hygiene rules"),
    ],
)
def test_ranks_the_relevant_seeded_document_first(language: str, question: str, title: str) -> None:
    docs = {t: local_embedding(f"{t}. {body}") for t, body, _ in DOCUMENTS[language]}
    query = local_embedding(question)
    ranked = sorted(docs, key=lambda t: cosine(query, docs[t]), reverse=True)
    assert ranked[0] == title
    assert cosine(query, docs[title]) >= LocalEmbedder.min_score


async def test_async_and_document_paths_agree() -> None:
    embedder = LocalEmbedder()
    assert await embedder.embed(["cours de yoga"]) == embedder.embed_documents(["cours de yoga"])


def test_pgvector_text_form() -> None:
    assert pgvector([0.5, -0.25, 1e-9]) == "[0.5,-0.25,1e-09]"
