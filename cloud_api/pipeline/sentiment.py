"""Lexicon sentiment in English and French, from maintained pip packages.

* English: vaderSentiment (VADER, Hutto & Gilbert 2014): valence lexicon plus rules for
  negation, intensifiers, "but" and punctuation; `compound` is already in -1..1.
* French: TextBlob's pattern analyzer with the French lexicon shipped by textblob-fr (the
  CLiPS Pattern lexicon, ~5,000 adjectives and expressions with polarity in -1..1, negation
  and intensifiers handled by the same rules). No maintained French sentiment package is on
  PyPI (vaderSentiment-fr was last released in 2021 and pulls GPL dependencies; SenticNet's
  `sentic` is non-commercial); TextBlob is maintained and textblob-fr is a thin data plugin.
* Both lexicons were written for reviews and tweets: the gym's own words for trouble
  ("en panne", "j'en ai marre", "bondé", "out of order") are missing or mis-scored. A small
  domain lexicon (below) adds or corrects them; it is applied on top of the library's score,
  never instead of it when the library found something.

The domain lexicon overrides the library on its own words: they are taken out of the
sentence the library scores (so are gym-neutral words such as "ferme"), and the sentence's
score is the library's moved half-way toward the domain words' mean (replaced by it when
the library found nothing else). A conversation's score is the mean of the member's sentences that
carry sentiment (|score| ≥ 0.05): questions and logistics are neutral and do not dilute a
complaint.
"""

from __future__ import annotations

import re
import warnings
from functools import cache
from typing import Protocol

CARRIES_SENTIMENT = 0.05
_SENTENCE = re.compile(r"(?<=[.!?…])\s+|\n+")

# Accent-folded words and phrases of the gym, with a valence in -1..1.
DOMAIN_VALENCE: dict[str, dict[str, float]] = {
    "fr": {
        "en panne": -0.6,
        "encore en panne": -0.7,
        "panne": -0.5,
        "marre": -0.7,
        "ras le bol": -0.7,
        "inadmissible": -0.8,
        "inacceptable": -0.8,
        "scandaleux": -0.8,
        "bonde": -0.4,
        "trop de monde": -0.5,
        "ne marche pas": -0.5,
        "ne fonctionne pas": -0.5,
        "casse": -0.5,
        "cassee": -0.5,
        "sale": -0.5,
        "degoutant": -0.8,
        "rembourse": -0.3,
        "deux fois": -0.2,
        "decu": -0.7,
        "decue": -0.7,
        "agace": -0.6,
        "enerve": -0.7,
        "penible": -0.5,
        "nul": -0.5,
        "bravo": 0.6,
        "top": 0.5,
        "merci beaucoup": 0.5,
        "au top": 0.7,
    },
    "en": {
        "out of order": -0.6,
        "fed up": -0.7,
        "broken": -0.5,
        "doesn't work": -0.5,
        "does not work": -0.5,
        "not working": -0.5,
        "too crowded": -0.5,
        "crowded": -0.4,
        "charged twice": -0.5,
        "unacceptable": -0.8,
        "dirty": -0.5,
        "filthy": -0.8,
    },
}


# Words the general lexicons score but that are neutral at a gym: "la salle ferme à 22 h"
# (closes, not "firm"), "libre" (a free machine), "bon" as a filler ("bon, au revoir").
NEUTRAL_AT_THE_GYM: dict[str, frozenset[str]] = {
    "fr": frozenset({"ferme", "fermé", "fermée", "fermez", "libre", "libres", "bon", "bien sûr"}),
    "en": frozenset({"free", "well", "like"}),
}
_TOKEN = re.compile(r"\w+|\W+")


def _without_neutral_words(sentence: str, language: str) -> str:
    neutral = NEUTRAL_AT_THE_GYM.get(language, frozenset())
    return "".join(t for t in _TOKEN.findall(sentence) if t.lower() not in neutral)


class SentenceScorer(Protocol):
    def __call__(self, sentence: str) -> float: ...


@cache
def _vader() -> SentenceScorer:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()

    def score(sentence: str) -> float:
        return float(analyzer.polarity_scores(sentence)["compound"])

    return score


@cache
def _pattern_fr() -> SentenceScorer:
    with warnings.catch_warnings():
        # textblob-fr's regular expressions have invalid escapes ("\." in plain strings):
        # Python warns (DeprecationWarning, SyntaxWarning from 3.12) when it first compiles
        # them in a fresh environment. Harmless; kept out of the worker's and demo's logs.
        warnings.filterwarnings("ignore", message="invalid escape sequence")
        from textblob_fr import PatternAnalyzer

    analyzer = PatternAnalyzer()

    def score(sentence: str) -> float:
        return float(analyzer.analyze(sentence)[0])

    return score


def warm_up() -> None:
    """Load both lexicons now (TextBlob imports NLTK: seconds), not on the first session."""
    _vader()
    _pattern_fr()


def library_scorer(language: str) -> SentenceScorer:
    return _pattern_fr() if language == "fr" else _vader()


_ACCENTED = {"a": "aàâä", "c": "cç", "e": "eéèêë", "i": "iîï", "o": "oôö", "u": "uùûü"}


@cache
def _domain_patterns(language: str) -> tuple[tuple[re.Pattern[str], float], ...]:
    """One accent- and case-insensitive pattern per domain phrase, longest phrases first."""
    patterns = []
    for phrase in sorted(DOMAIN_VALENCE.get(language, {}), key=len, reverse=True):
        body = "".join(
            f"[{_ACCENTED[ch]}]" if ch in _ACCENTED else re.escape(ch).replace("'", "['’]")
            for ch in phrase
        )
        patterns.append(
            (re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE), DOMAIN_VALENCE[language][phrase])
        )
    return tuple(patterns)


def domain_hits(sentence: str, language: str) -> tuple[list[float], str]:
    """(valences of the domain words and phrases found, the sentence without them): the
    domain lexicon overrides the library on its own words."""
    found: list[float] = []
    rest = sentence
    for pattern, valence in _domain_patterns(language):
        rest, n = pattern.subn(" ", rest)
        found += [valence] * n
    return found, rest


def sentence_score(sentence: str, language: str) -> float:
    hits, rest = domain_hits(sentence, language)
    base = library_scorer(language)(_without_neutral_words(rest, language))
    if hits:
        # Each domain word weighs as much as everything else the library read in the sentence.
        base = (
            sum(hits) / len(hits)
            if abs(base) < CARRIES_SENTIMENT
            else ((base + sum(hits)) / (1 + len(hits)))
        )
    return max(-1.0, min(1.0, base))


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


def line_scores(member_lines: list[str], language: str) -> list[list[float]]:
    """Each sentence's score, line by line."""
    return [[sentence_score(s, language) for s in sentences(line)] for line in member_lines]


def conversation_score(member_lines: list[str], language: str) -> tuple[float, list[float]]:
    """(the conversation's score, each sentence's score)."""
    scores = [s for line in line_scores(member_lines, language) for s in line]
    return mean_carrying(scores), scores


def mean_carrying(scores: list[float]) -> float:
    """The mean of the scores that carry sentiment; 0 when none does."""
    carrying = [s for s in scores if abs(s) >= CARRIES_SENTIMENT]
    return sum(carrying) / len(carrying) if carrying else 0.0
