"""What the kiosk says and shows to members outside a conversation, in their language.

French and English; any other language falls back to English. Sentences say what happened
and what to do, in the gym's words.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum

from contract.errors import ErrorCode


class Notice(StrEnum):
    BADGE_EXPIRED = "badge_expired"
    BADGE_SUSPENDED = "badge_suspended"
    BADGE_UNKNOWN = "badge_unknown"
    CANNOT_CHECK = "cannot_check"
    OFFLINE = "offline"
    SESSION_REFUSED = "session_refused"
    SESSION_LIMIT = "session_limit"
    BUDGET_REACHED = "budget_reached"
    SESSION_FAILED = "session_failed"
    HANDOVER = "handover"
    NOT_SET_UP = "not_set_up"
    OUT_OF_SERVICE = "out_of_service"


_TEXTS: dict[str, dict[Notice, str]] = {
    "fr": {
        Notice.BADGE_EXPIRED: "Bonjour{name}, votre abonnement a expiré{since}. "
        "Passez à l'accueil pour le renouveler.",
        Notice.BADGE_SUSPENDED: "Bonjour{name}, votre abonnement est suspendu. "
        "Merci de passer à l'accueil.",
        Notice.BADGE_UNKNOWN: "Ce badge n'est pas reconnu. Merci de vous adresser à l'accueil.",
        Notice.CANNOT_CHECK: "Je ne peux pas vérifier votre badge pour le moment. "
        "Réessayez dans quelques minutes ou adressez-vous à l'accueil.",
        Notice.OFFLINE: "Bonjour{name} ! JARVIS n'est pas joignable pour le moment. "
        "Réessayez dans quelques minutes.",
        Notice.SESSION_REFUSED: "Désolé{name}, JARVIS ne peut pas vous répondre maintenant. "
        "Réessayez un peu plus tard.",
        Notice.SESSION_LIMIT: "Désolé{name}, vous avez beaucoup parlé avec JARVIS "
        "récemment. Revenez un peu plus tard !",
        Notice.BUDGET_REACHED: "Désolé{name}, JARVIS a atteint sa limite pour aujourd'hui. "
        "À demain !",
        Notice.SESSION_FAILED: "Désolé{name}, JARVIS rencontre un problème technique. "
        "Réessayez dans un instant.",
        Notice.HANDOVER: "Merci{name}, à bientôt ! Un autre membre attend.",
        Notice.NOT_SET_UP: "Cette borne n'est pas encore configurée. "
        "Merci de vous adresser à l'accueil.",
        Notice.OUT_OF_SERVICE: "Cette borne est en maintenance. "
        "Merci de vous adresser à l'accueil.",
    },
    "en": {
        Notice.BADGE_EXPIRED: "Hello{name}, your membership expired{since}. "
        "Please see the front desk to renew it.",
        Notice.BADGE_SUSPENDED: "Hello{name}, your membership is suspended. "
        "Please see the front desk.",
        Notice.BADGE_UNKNOWN: "This badge is not recognised. Please see the front desk.",
        Notice.CANNOT_CHECK: "I cannot check your badge right now. "
        "Please try again in a few minutes or see the front desk.",
        Notice.OFFLINE: "Hello{name}! JARVIS cannot be reached right now. "
        "Please try again in a few minutes.",
        Notice.SESSION_REFUSED: "Sorry{name}, JARVIS cannot talk right now. "
        "Please try again a little later.",
        Notice.SESSION_LIMIT: "Sorry{name}, you have talked with JARVIS a lot recently. "
        "Come back a little later!",
        Notice.BUDGET_REACHED: "Sorry{name}, JARVIS has reached its limit for today. "
        "See you tomorrow!",
        Notice.SESSION_FAILED: "Sorry{name}, JARVIS has a technical problem. "
        "Please try again in a moment.",
        Notice.HANDOVER: "Thank you{name}, see you soon! Another member is waiting.",
        Notice.NOT_SET_UP: "This kiosk is not set up yet. Please see the front desk.",
        Notice.OUT_OF_SERVICE: "This kiosk is under maintenance. Please see the front desk.",
    },
}

# What a member is told when the cloud refuses to start their session, by the cloud's code
# (the cloud's own sentence, when it sends one, replaces the text but not the notice).
REFUSAL_NOTICES: Mapping[ErrorCode, Notice] = {
    ErrorCode.DAILY_BUDGET_EXHAUSTED: Notice.BUDGET_REACHED,
    ErrorCode.MEMBER_SESSION_LIMIT: Notice.SESSION_LIMIT,
    ErrorCode.MEMBERSHIP_EXPIRED: Notice.BADGE_EXPIRED,
    ErrorCode.MEMBER_SUSPENDED: Notice.BADGE_SUSPENDED,
    ErrorCode.MEMBER_NOT_FOUND: Notice.BADGE_UNKNOWN,
    ErrorCode.RATE_LIMITED: Notice.SESSION_REFUSED,
    # Not a passing problem: "try again in a moment" would be wrong.
    ErrorCode.VOICE_NOT_CONFIGURED: Notice.SESSION_REFUSED,
    ErrorCode.SESSION_ID_IN_USE: Notice.SESSION_FAILED,
    ErrorCode.OPENAI_KEY_REFUSED: Notice.SESSION_FAILED,
    ErrorCode.OPENAI_RATE_LIMITED: Notice.SESSION_REFUSED,
    ErrorCode.OPENAI_UNREACHABLE: Notice.SESSION_FAILED,
    ErrorCode.OPENAI_UNAVAILABLE: Notice.SESSION_FAILED,
    ErrorCode.OPENAI_REFUSED_SESSION: Notice.SESSION_FAILED,
}


def refusal_notice(code: str, status: int | None) -> Notice:
    """The notice for a voice start the cloud refused with ``code`` (and HTTP ``status``)."""
    try:
        return REFUSAL_NOTICES[ErrorCode(code)]
    except (ValueError, KeyError):
        pass
    # A code this kiosk does not know (a newer cloud), or one with no notice of its own: the
    # status class decides.
    if status is not None and status >= 500:
        return Notice.SESSION_FAILED
    return Notice.SESSION_REFUSED


_SINCE = {"fr": " le {d:%d/%m/%Y}", "en": " on {d:%d %B %Y}"}


def supported_language(language: str | None, fallback: str) -> str:
    for candidate in (language, fallback):
        if candidate in _TEXTS:
            return candidate
    return "en"


def render(
    notice: Notice,
    language: str,
    *,
    first_name: str | None = None,
    expired_on: date | None = None,
) -> str:
    """The sentence for ``notice``; ``language`` must come from :func:`supported_language`."""
    texts = _TEXTS.get(language, _TEXTS["en"])
    name = f" {first_name}" if first_name else ""
    since = _SINCE.get(language, _SINCE["en"]).format(d=expired_on) if expired_on else ""
    return texts[notice].format(name=name, since=since)
