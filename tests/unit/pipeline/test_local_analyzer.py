"""The local analyzer on French and English transcripts: expected labels, topics, intents."""

from __future__ import annotations

import uuid

import pytest

from cloud_api.pipeline.analysis import Transcript, Turn
from cloud_api.pipeline.local_analyzer import analyze_locally
from cloud_api.pipeline.sentiment import conversation_score, sentence_score
from cloud_api.tools.embedding import LOCAL_MODEL


def transcript(language: str, *lines: str, tools: tuple[str, ...] = ()) -> Transcript:
    turns: list[Turn] = []
    for line in lines:
        turns += [Turn("user", line), Turn("assistant", "D'accord." if language == "fr" else "OK.")]
    return Transcript(uuid.uuid4(), language, "Camille", tuple(turns), tools)


# (language, what the member said, tools JARVIS ran, label, emotion, a topic, an intent)
CASES = [
    (
        "fr",
        ["Le tapis de course numéro 3 est encore en panne, j'en ai marre."],
        (),
        "negative",
        "frustration",
        "equipment",
        "report_issue",
    ),
    (
        "fr",
        ["Il y a beaucoup trop de monde le soir, c'est pénible."],
        (),
        "negative",
        "frustration",
        "crowding",
        "complaint",
    ),
    (
        "fr",
        ["On m'a prélevé deux fois ce mois-ci, c'est inadmissible !"],
        (),
        "negative",
        "anger",
        "billing",
        "complaint",
    ),
    (
        "fr",
        ["Tu peux me réserver le HIIT de 19h30 ?", "Super, merci beaucoup, c'est génial !"],
        ("book_class",),
        "positive",
        "joy",
        "classes",
        "book_class",
    ),
    (
        "fr",
        ["Quels sont mes cours cette semaine ?", "Et la salle ferme à quelle heure ?"],
        ("get_class_schedule",),
        "neutral",
        "neutral",
        "classes",
        "ask_question",
    ),
    (
        "en",
        ["Treadmill 3 is broken again, I'm really fed up."],
        (),
        "negative",
        "frustration",
        "equipment",
        "report_issue",
    ),
    (
        "en",
        ["It's way too crowded in the evenings, this is ridiculous."],
        (),
        "negative",
        "frustration",
        "crowding",
        "complaint",
    ),
    (
        "en",
        ["Can you book me into the 7:30 HIIT?", "Great, thanks a lot, you're awesome!"],
        ("book_class",),
        "positive",
        "joy",
        "classes",
        "book_class",
    ),
    (
        "en",
        ["What time do you close on Sunday?"],
        ("get_opening_hours",),
        "neutral",
        "neutral",
        "opening_hours",
        "ask_question",
    ),
    (
        "en",
        ["My knee hurts since yesterday's class, I'm worried."],
        (),
        "negative",
        "worry",
        "injury",
        None,
    ),
]


@pytest.mark.parametrize(
    ("language", "lines", "tools", "label", "emotion", "topic", "intent"),
    CASES,
    ids=[f"{c[0]}-{c[1][0][:24]}" for c in CASES],
)
def test_labels(
    language: str,
    lines: list[str],
    tools: tuple[str, ...],
    label: str,
    emotion: str,
    topic: str,
    intent: str | None,
) -> None:
    result = analyze_locally(transcript(language, *lines, tools=tools))
    a = result.analysis
    assert a.sentiment_label == label, a
    assert a.emotion == emotion, a
    assert topic in a.key_topics, a
    if intent:
        assert intent in a.intents, a
    assert result.analyzer == "local-v1"
    assert result.language == language
    assert result.embedding_model == LOCAL_MODEL
    assert result.embedding is not None
    assert len(result.embedding) == 1536


def test_a_broken_machine_becomes_an_action_item_quoting_the_member() -> None:
    said = "Le vélo elliptique près des fenêtres ne fonctionne pas."
    a = analyze_locally(transcript("fr", said)).analysis
    assert [(i.type, i.detail) for i in a.action_items] == [("check_equipment", said)]
    assert "Camille" in a.summary
    assert said in a.summary


def test_questions_do_not_dilute_a_complaint() -> None:
    lines = ["Quels sont mes cours ?", "Et le sauna ?", "Le tapis est en panne, c'est pénible."]
    score, per_sentence = conversation_score(lines, "fr")
    assert per_sentence[0] == 0
    assert per_sentence[1] == 0
    assert score < -0.5


def test_gym_words_are_neutral_where_the_lexicon_misreads_them() -> None:
    # Pattern reads "ferme" as "firm" (positive); at a gym it means "closes".
    assert sentence_score("La salle ferme à quelle heure ?", "fr") == 0


def test_nothing_said_is_neutral_and_has_no_embedding() -> None:
    result = analyze_locally(Transcript(uuid.uuid4(), "fr", None, ()))
    assert result.analysis.sentiment_label == "neutral"
    assert result.embedding is None
    assert result.embedding_model is None
