"""The analyzer that needs no network: lexicon sentiment, keyword topics and intents, an
extractive summary, and the tools' local hashing embedding. Deterministic and fast (about a
millisecond per session), so it also serves as the fallback when OpenAI refuses or fails.
"""

from __future__ import annotations

from cloud_api.pipeline import keywords
from cloud_api.pipeline.analysis import (
    ActionItem,
    AnalysisResult,
    ConversationAnalysis,
    Emotion,
    Intent,
    Transcript,
    sentiment_label,
)
from cloud_api.pipeline.sentiment import line_scores, mean_carrying
from cloud_api.tools.embedding import LOCAL_MODEL, local_embedding

ANALYZER = "local-v1"

TOPIC_NAMES = {
    "fr": {
        "equipment": "équipement",
        "classes": "cours",
        "booking": "réservation",
        "opening_hours": "horaires",
        "billing": "facturation",
        "membership": "abonnement",
        "crowding": "affluence",
        "cleanliness": "propreté",
        "progress": "progrès",
        "coaching": "coaching",
        "injury": "blessure",
        "staff": "personnel",
        "motivation": "motivation",
    },
}
MOOD = {
    "fr": {"negative": "mécontent", "neutral": "neutre", "positive": "satisfait"},
    "en": {"negative": "unhappy", "neutral": "neutral", "positive": "happy"},
}
ACTIONS = {
    "check_equipment": {
        "fr": "Vérifier l'équipement signalé",
        "en": "Check the equipment reported",
    },
    "follow_up": {"fr": "Recontacter le membre", "en": "Follow up with the member"},
    "call_member": {"fr": "Appeler le membre", "en": "Call the member"},
    "check_billing": {"fr": "Vérifier la facturation", "en": "Check the member's billing"},
    "retention_call": {
        "fr": "Proposer un échange avant résiliation",
        "en": "Call before they cancel",
    },
}


def _topic_name(topic: str, language: str) -> str:
    return TOPIC_NAMES.get(language, {}).get(topic, topic.replace("_", " "))


def _emotion(text: str, score: float) -> Emotion:
    if score < -0.2:
        ranked = sorted(
            keywords.EMOTION_WORDS,
            key=lambda e: -keywords.count_hits(text, keywords.EMOTION_WORDS[e]),
        )
        best = ranked[0]
        if keywords.count_hits(text, keywords.EMOTION_WORDS[best]):
            return best  # type: ignore[return-value]
        return "frustration"
    if keywords.count_hits(text, keywords.EMOTION_WORDS["worry"]):
        return "worry"
    if score > 0.5:
        return "joy"
    if score > 0.2:
        return "satisfaction"
    return "neutral"


def _intents(transcript: Transcript, text: str, score: float) -> list[Intent]:
    found: list[Intent] = []
    for name in transcript.tool_names:
        intent = keywords.TOOL_INTENTS.get(name)
        if intent:
            found.append(intent)  # type: ignore[arg-type]
    for intent, words in keywords.INTENT_WORDS.items():
        if keywords.count_hits(text, words):
            if intent == "complaint" and score >= 0:
                continue
            if intent == "compliment" and score <= 0.2:
                continue
            found.append(intent)  # type: ignore[arg-type]
    if any(line.rstrip().endswith("?") for line in transcript.member_lines):
        found.append("ask_question")
    return list(dict.fromkeys(found))[:6]


def _actions(
    transcript: Transcript, intents: list[Intent], topics: list[str], language: str
) -> list[ActionItem]:
    lines = transcript.member_lines
    items: list[ActionItem] = []

    def said(words: tuple[str, ...]) -> str:
        hit = next(
            (line for line in lines if keywords.count_hits(keywords.folded(line), words)), ""
        )
        return hit[:300]

    if "report_issue" in intents:
        detail = said(keywords.INTENT_WORDS["report_issue"]) or ACTIONS["check_equipment"][language]
        items.append(ActionItem(type="check_equipment", detail=detail))
    if "billing" in topics and "complaint" in intents:
        items.append(ActionItem(type="check_billing", detail=said(keywords.TOPICS["billing"])))
    if "cancel_membership" in intents:
        items.append(ActionItem(type="retention_call", detail=ACTIONS["retention_call"][language]))
    if "request_staff" in intents:
        items.append(ActionItem(type="call_member", detail=ACTIONS["call_member"][language]))
    if "complaint" in intents and not any(i.type == "check_billing" for i in items):
        items.append(
            ActionItem(
                type="follow_up",
                detail=said(keywords.INTENT_WORDS["complaint"]) or ACTIONS["follow_up"][language],
            )
        )
    return items[:6]


def _summary(
    transcript: Transcript,
    scores: list[list[float]],
    topics: list[str],
    label: str,
    emotion: str,
    language: str,
) -> str:
    lang = "fr" if language == "fr" else "en"
    who = transcript.first_name or ("Le membre" if lang == "fr" else "The member")
    lines = transcript.member_lines
    if not lines:
        return (
            f"{who} n'a rien dit de compréhensible."
            if lang == "fr"
            else f"{who} said nothing JARVIS could understand."
        )

    # What the member said that weighs most: the line holding the strongest sentence.
    weights = [max((abs(s) for s in line), default=0.0) for line in scores]
    key = lines[weights.index(max(weights))]
    about = ", ".join(_topic_name(t, lang) for t in topics[:3])
    mood = MOOD[lang][label]
    if lang == "fr":
        text = f"{who} — sujets : {about or 'divers'} ; ton {mood}"
        text += f" ({emotion})." if emotion not in ("neutral",) else "."
        text += f" A dit : « {key[:200]} »"
    else:
        text = f"{who} — topics: {about or 'various'}; sounded {mood}"
        text += f" ({emotion})." if emotion not in ("neutral",) else "."
        text += f' Said: "{key[:200]}"'
    return text[:600]


def analyze_locally(transcript: Transcript) -> AnalysisResult:
    language = "fr" if transcript.language == "fr" else "en"
    lines = transcript.member_lines
    text = "\n".join(lines)
    plain = keywords.folded(text)
    scores = line_scores(lines, language)
    score = mean_carrying([s for line in scores for s in line])
    label = sentiment_label(score)
    topics = keywords.topics_of(plain)
    emotion = _emotion(plain, score)
    intents = _intents(transcript, plain, score)
    analysis = ConversationAnalysis(
        summary=_summary(transcript, scores, topics, label, emotion, language),
        key_topics=topics,
        sentiment_score=round(score, 2),
        sentiment_label=label,
        emotion=emotion,
        intents=intents,
        action_items=_actions(transcript, intents, topics, language),
    )
    # What the member said is what later searches compare: the summary only repeats it.
    embedding = local_embedding(text) if text else None
    return AnalysisResult(
        analysis=analysis,
        analyzer="local-v1",
        analysis_model=ANALYZER,
        language=language,
        embedding=embedding,
        embedding_model=LOCAL_MODEL if embedding is not None else None,
    )
