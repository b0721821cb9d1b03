"""Sentences said to a member — by the kiosk (a refused session) or by JARVIS (a tool error).

French or English: the member's preferred language when it is one of those, else English.
Each sentence says what happened and what to do next.
"""

from __future__ import annotations

from typing import Any

from cloud_api.tools.hours import text_language

SENTENCES: dict[str, dict[str, str]] = {
    # -- voice session start ------------------------------------------------------------
    "member_not_found": {
        "fr": "Je ne trouve pas ce badge dans cette salle. Adressez-vous à l'accueil, s'il vous "
        "plaît.",
        "en": "I can't find this badge at this gym. Please ask at the front desk.",
    },
    "member_suspended": {
        "fr": "Votre abonnement est suspendu. Passez à l'accueil pour le réactiver.",
        "en": "Your membership is suspended. Please see the front desk to reactivate it.",
    },
    "membership_expired": {
        "fr": "Votre abonnement a expiré le {expired_on}. Passez à l'accueil pour le renouveler.",
        "en": "Your membership expired on {expired_on}. Please see the front desk to renew it.",
    },
    "member_session_limit": {
        "fr": "Vous avez déjà parlé {count} fois avec JARVIS dans l'heure. Vous pourrez "
        "recommencer dans {minutes} minutes.",
        "en": "You have already talked to JARVIS {count} times this hour. You can talk again "
        "in {minutes} minutes.",
    },
    "daily_budget_exhausted": {
        "fr": "JARVIS a atteint sa limite d'utilisation pour aujourd'hui dans cette salle. Il "
        "sera de nouveau disponible demain ; l'accueil peut vous aider d'ici là.",
        "en": "JARVIS has reached its usage limit for today at this gym. It will be back "
        "tomorrow; the front desk can help you until then.",
    },
    "voice_unavailable": {
        "fr": "JARVIS n'est pas disponible pour le moment. Réessayez dans quelques minutes ou "
        "adressez-vous à l'accueil.",
        "en": "JARVIS is not available right now. Please try again in a few minutes or ask at "
        "the front desk.",
    },
    # -- tools: generic -------------------------------------------------------------------
    "invalid_arguments": {
        "fr": "Je n'ai pas pu le faire : la valeur de « {field} » n'est pas valable ({problem}).",
        "en": "I couldn't do that: the value of '{field}' is not valid ({problem}).",
    },
    "tool_timeout": {
        "fr": "Cela prend trop de temps, je n'ai pas pu terminer. Réessayons dans un instant.",
        "en": "That is taking too long and I couldn't finish. Let's try again in a moment.",
    },
    # -- tools: classes -------------------------------------------------------------------
    "class_not_found": {
        "fr": "Je ne trouve pas ce cours dans le planning de la salle. Regardons le planning "
        "ensemble.",
        "en": "I can't find that class in the gym's schedule. Let's look at the schedule together.",
    },
    "class_cancelled": {
        "fr": "Le cours {name} de {time} est annulé.",
        "en": "The {name} class at {time} has been cancelled.",
    },
    "class_started": {
        "fr": "Le cours {name} de {time} a déjà commencé ; je ne peux plus le modifier.",
        "en": "The {name} class at {time} has already started; I can't change it any more.",
    },
    "already_booked": {
        "fr": "Vous êtes déjà inscrit au cours {name} de {time}.",
        "en": "You are already booked on the {name} class at {time}.",
    },
    "already_waitlisted": {
        "fr": "Vous êtes déjà sur la liste d'attente du cours {name} de {time}.",
        "en": "You are already on the waiting list for the {name} class at {time}.",
    },
    "class_full": {
        "fr": "Le cours {name} de {time} est complet, liste d'attente comprise.",
        "en": "The {name} class at {time} is full, waiting list included.",
    },
    "booking_not_found": {
        "fr": "Je ne trouve pas de réservation à annuler pour ce cours.",
        "en": "I can't find a booking to cancel for that class.",
    },
    "not_your_booking": {
        "fr": "Cette réservation n'est pas à votre nom ; je ne peux annuler que les vôtres.",
        "en": "That booking is not in your name; I can only cancel your own bookings.",
    },
    "already_cancelled": {
        "fr": "Cette réservation est déjà annulée.",
        "en": "That booking is already cancelled.",
    },
    # -- tools: goals and knowledge -------------------------------------------------------
    "no_goal_change": {
        "fr": "Dites-moi ce que vous voulez changer : un objectif, un poids cible ou le nombre "
        "de séances par semaine.",
        "en": "Tell me what you would like to change: a goal, a target weight or how many "
        "sessions a week.",
    },
    "knowledge_unavailable": {
        "fr": "Je ne peux pas consulter les informations de la salle pour le moment ; "
        "l'accueil pourra vous répondre.",
        "en": "I can't look up the gym's information right now; the front desk can answer you.",
    },
}


def say(language: str | None, key: str, **values: Any) -> str:
    """The sentence `key` in the member's language (fr, else en), filled with `values`."""
    return SENTENCES[key][text_language(language)].format(**values)
