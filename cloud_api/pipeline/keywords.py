"""The gym's vocabulary for the local analyzer: topics, intents and emotions by keyword.

Keys are accent-folded and matched on word boundaries (a trailing `*` matches any ending:
`reserv*` finds réserver, réservé, reservation). French and English lists live side by side
because members switch languages and borrow words ("le HIIT", "le cardio").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from cloud_api.tools.embedding import fold

TOPICS: dict[str, tuple[str, ...]] = {
    "equipment": (
        "tapis",
        "tapis de course",
        "machine*",
        "velo*",
        "rameur*",
        "haltere*",
        "banc*",
        "appareil*",
        "elliptique*",
        "treadmill*",
        "bike*",
        "rower*",
        "dumbbell*",
        "bench*",
        "equipment",
        "equipement*",
        "panne",
        "broken",
        "out of order",
    ),
    "classes": (
        "cours",
        "yoga",
        "hiit",
        "spinning",
        "pilates",
        "zumba",
        "body pump",
        "crossfit",
        "class",
        "classes",
        "planning",
        "schedule",
    ),
    "booking": ("reserv*", "inscri*", "book*", "place*", "liste d'attente", "waitlist"),
    "opening_hours": (
        "heure*",
        "horaire*",
        "ouvert*",
        "ferme",
        "fermez",
        "fermeture",
        "open*",
        "close*",
        "closing",
        "hours",
    ),
    "billing": (
        "preleve*",
        "prelevement*",
        "factur*",
        "paiement*",
        "payer",
        "rembours*",
        "tarif*",
        "prix",
        "charged",
        "billing",
        "payment*",
        "refund*",
        "price*",
        "bill",
    ),
    "membership": ("abonnement*", "adhesion*", "resilier", "resiliation", "membership", "renew*"),
    "crowding": ("monde", "bonde*", "attente", "crowded", "busy", "queue*", "full"),
    "cleanliness": (
        "sale*",
        "propre*",
        "proprete",
        "douche*",
        "vestiaire*",
        "dirty",
        "clean*",
        "shower*",
        "locker*",
        "hygiene",
    ),
    "progress": (
        "objectif*",
        "poids",
        "kilo*",
        "progres*",
        "muscle*",
        "goal*",
        "weight",
        "progress*",
    ),
    "coaching": ("coach*", "programme*", "entrainement*", "trainer*", "program*", "workout*"),
    "injury": ("blessure*", "blesse*", "douleur*", "mal au", "injur*", "pain", "hurt*"),
    "staff": ("personnel", "accueil", "equipe", "staff", "reception*", "manager"),
    "motivation": ("fatigue*", "motivation", "motive*", "tired", "motivat*"),
}

INTENT_WORDS: dict[str, tuple[str, ...]] = {
    "report_issue": (
        "panne",
        "en panne",
        "casse*",
        "ne marche pas",
        "ne fonctionne pas",
        "fuite",
        "broken",
        "out of order",
        "doesn't work",
        "not working",
        "leak*",
    ),
    "complaint": (
        "marre",
        "inadmissible",
        "inacceptable",
        "scandaleux",
        "penible",
        "decu*",
        "nul",
        "trop de monde",
        "pas normal",
        "fed up",
        "unacceptable",
        "ridiculous",
        "annoying",
        "disappointed",
        "too crowded",
        "charged twice",
        "deux fois",
    ),
    "compliment": ("bravo", "genial", "excellent", "super", "great", "awesome", "love", "au top"),
    "book_class": ("reserve*", "reserver", "inscri*", "book*"),
    "cancel_booking": ("annuler", "annule", "cancel"),
    "cancel_membership": ("resilier", "resiliation", "quitter la salle", "cancel my membership"),
    "request_staff": ("parler a quelqu'un", "un responsable", "speak to someone", "a manager"),
    "ask_progress": ("j'en suis ou", "mon objectif", "my goal", "how am i doing", "progres*"),
    "smalltalk": ("fatigue*", "tired", "ca va", "how are you"),
}

# Tools JARVIS ran in the session say what the member wanted more surely than words do.
TOOL_INTENTS = {
    "book_class": "book_class",
    "cancel_booking": "cancel_booking",
    "report_equipment_issue": "report_issue",
    "escalate_to_staff": "request_staff",
    "get_member_progress": "ask_progress",
    "update_fitness_goal": "set_goal",
    "get_class_schedule": "ask_question",
    "get_opening_hours": "ask_question",
    "search_gym_knowledge": "ask_question",
}

EMOTION_WORDS: dict[str, tuple[str, ...]] = {
    "anger": (
        "scandaleux",
        "furieux",
        "inadmissible",
        "inacceptable",
        "furious",
        "unacceptable",
        "outrageous",
        "enerve*",
        "angry",
    ),
    "frustration": (
        "marre",
        "penible",
        "ras le bol",
        "encore",
        "again",
        "fed up",
        "annoying",
        "frustr*",
        "agace*",
    ),
    "sadness": ("triste", "deprime*", "decourage*", "sad", "down", "discouraged"),
    "worry": ("peur", "inquiet*", "blesse*", "douleur*", "worried", "afraid", "hurt*", "pain"),
}


@cache
def _pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    parts = []
    for word in words:
        stem = re.escape(fold(word).rstrip("*"))
        parts.append(stem + (r"[a-z']*" if word.endswith("*") else ""))
    return re.compile(r"(?<![a-z])(?:" + "|".join(parts) + r")(?![a-z])")


def folded(text: str) -> str:
    """The form every keyword is matched against: lower case, no accents, plain apostrophes."""
    return fold(text).replace("’", "'")


def count_hits(folded_text: str, words: Iterable[str]) -> int:
    """How many times the text (already `folded`) says any of the words."""
    return len(_pattern(tuple(words)).findall(folded_text))


def topics_of(folded_text: str, limit: int = 5) -> list[str]:
    counts = {topic: count_hits(folded_text, words) for topic, words in TOPICS.items()}
    found = sorted((t for t, n in counts.items() if n), key=lambda t: -counts[t])
    return found[:limit]
