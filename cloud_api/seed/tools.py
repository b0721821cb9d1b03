"""Demo content for JARVIS's tools: a gym's knowledge documents and a week of classes.

Called by the demo seed on its admin connection (`seed_knowledge(conn, gym_id, "fr")`).
By default documents are embedded with the local embedder, so the demo's knowledge search
works with no OpenAI key and with the Realtime simulator (which has no embeddings endpoint);
pass `embedder=document_embedder(settings)` to embed them with OpenAI when the cloud has a
real key. Both functions are idempotent.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID

import psycopg

from cloud_api.tools.embedding import DocumentEmbedder, LocalEmbedder, pgvector

DOCUMENTS: dict[str, list[tuple[str, str, list[str]]]] = {
    "fr": [
        (
            "Vestiaires et douches",
            "Les vestiaires hommes et femmes sont au rez-de-chaussée, à gauche de l'accueil. "
            "Les douches sont chaudes et ouvertes pendant toutes les heures d'ouverture ; "
            "pensez à vos affaires de douche. Les casiers se ferment avec votre propre cadenas "
            "et doivent être libérés le soir : les casiers encore fermés à la fermeture sont "
            "vidés.",
            ["vestiaires", "douches", "casiers"],
        ),
        (
            "Parking et accès",
            "Un parking gratuit de 40 places est derrière la salle : vous pouvez vous garer "
            "pendant votre séance, 3 heures maximum. Un local à vélos fermé se trouve à côté de "
            "l'entrée. L'accès se fait avec votre badge à la borne d'entrée.",
            ["parking", "vélo", "accès", "badge"],
        ),
        (
            "Wi-Fi",
            "Le wifi gratuit pour les membres s'appelle « Salle-Membres ». Le mot de passe est "
            "affiché à l'accueil et change chaque mois.",
            ["wifi", "internet"],
        ),
        (
            "Tarifs et abonnements",
            "Abonnement standard sans engagement : 39 euros par mois. Abonnement annuel : 390 "
            "euros. Tarif étudiant : 29 euros par mois sur justificatif. Abonnement heures "
            "creuses (avant 17 h en semaine) : 25 euros par mois. Les frais d'inscription sont "
            "de 30 euros. Pour suspendre ou résilier un abonnement, adressez-vous à l'accueil.",
            ["tarifs", "prix", "abonnement", "résiliation"],
        ),
        (
            "Serviette et règles d'hygiène",
            "La serviette est obligatoire sur tous les appareils et tapis. Merci d'essuyer les "
            "machines après usage avec les sprays désinfectants mis à disposition, et de "
            "ranger les haltères et les poids après votre séance. Chaussures propres réservées "
            "à la salle obligatoires.",
            ["serviette", "hygiène", "règles", "chaussures"],
        ),
        (
            "Cours collectifs : réservation et annulation",
            "Les cours collectifs (yoga, pilates, body pump, spinning, stretching) se "
            "réservent auprès de JARVIS ou à l'accueil, jusqu'au début du cours. Quand un cours "
            "est complet, vous pouvez vous inscrire sur la liste d'attente : si une place se "
            "libère, elle vous est attribuée automatiquement. Annulez au plus tôt pour laisser "
            "votre place.",
            ["cours", "réservation", "annulation", "liste d'attente"],
        ),
        (
            "Coaching personnel",
            "Nos coachs proposent des séances de coaching personnel de 45 minutes : 35 euros la "
            "séance ou 300 euros les 10 séances. Un bilan forme gratuit est offert à chaque "
            "nouveau membre ; demandez-le à l'accueil.",
            ["coach", "coaching", "bilan"],
        ),
    ],
    "en": [
        (
            "Changing rooms and showers",
            "The men's and women's changing rooms are on the ground floor, left of the front "
            "desk. Showers are hot and open during all opening hours; bring your own toiletries. "
            "Lockers close with your own padlock and must be emptied by the evening: lockers "
            "still locked at closing time are cleared.",
            ["changing rooms", "showers", "lockers"],
        ),
        (
            "Parking and access",
            "A free car park with 40 spaces is behind the gym: you can park there during your "
            "workout, 3 hours maximum. A locked bike shelter is next to the entrance. You get "
            "in with your badge at the entrance kiosk.",
            ["parking", "bike", "access", "badge"],
        ),
        (
            "Wi-Fi",
            "The free members' wifi network is called 'Gym-Members'. The password is displayed "
            "at the front desk and changes every month.",
            ["wifi", "internet"],
        ),
        (
            "Prices and memberships",
            "Standard membership, no commitment: 39 euros a month. Annual membership: 390 "
            "euros. Student price: 29 euros a month with proof. Off-peak membership (before "
            "5 pm on weekdays): 25 euros a month. The joining fee is 30 euros. To pause or "
            "cancel a membership, see the front desk.",
            ["prices", "membership", "cancel"],
        ),
        (
            "Towel and hygiene rules",
            "A towel is required on all machines and mats. Please wipe machines down after use "
            "with the disinfectant sprays provided, and put dumbbells and weights back after "
            "your workout. Clean indoor shoes are required.",
            ["towel", "hygiene", "rules", "shoes"],
        ),
        (
            "Group classes: booking and cancelling",
            "Group classes (yoga, pilates, body pump, spinning, stretching) can be booked with "
            "JARVIS or at the front desk, until the class starts. When a class is full you can "
            "join the waiting list: if a spot frees up, it is given to you automatically. "
            "Cancel as early as you can to free your spot.",
            ["classes", "booking", "cancelling", "waiting list"],
        ),
        (
            "Personal training",
            "Our coaches offer 45-minute personal training sessions: 35 euros a session or 300 "
            "euros for 10 sessions. Every new member gets a free fitness assessment; ask at the "
            "front desk.",
            ["coach", "personal training", "assessment"],
        ),
    ],
}

# (name, weekdays 0 = Monday, local start "HH:MM", minutes, capacity, waitlist, coach, room)
CLASSES: list[tuple[str, tuple[int, ...], str, int, int, int, str, str]] = [
    ("Yoga", (0, 2, 4), "07:15", 60, 16, 4, "Camille", "Studio 1"),
    ("Spinning", (1, 3), "12:15", 45, 20, 5, "Hugo", "Salle vélo"),
    ("Body Pump", (0, 1, 2, 3), "18:30", 55, 24, 6, "Inès", "Studio 2"),
    ("Pilates", (5,), "10:00", 50, 14, 4, "Camille", "Studio 1"),
    ("Stretching", (2, 4), "19:45", 30, 18, 0, "Lucas", "Studio 1"),
]


def seed_knowledge(
    conn: psycopg.Connection[Any],
    gym_id: UUID,
    language: str,
    *,
    embedder: DocumentEmbedder | None = None,
) -> int:
    """The demo documents in `language` (fr or en; others get English) for one gym, embedded
    with `embedder` (default: the local one). Returns how many documents were written."""
    lang = language if language in DOCUMENTS else "en"
    docs = DOCUMENTS[lang]
    embedder = embedder or LocalEmbedder()
    vectors = embedder.embed_documents([f"{title}. {body}" for title, body, _ in docs])
    for (title, body, tags), vector in zip(docs, vectors, strict=True):
        conn.execute(
            "insert into knowledge_documents (gym_id, title, body, language, tags, embedding, "
            "embedding_model) values (%s, %s, %s, %s, %s, %s::extensions.vector, %s) "
            "on conflict (gym_id, language, title) do update set body = excluded.body, "
            "tags = excluded.tags, embedding = excluded.embedding, "
            "embedding_model = excluded.embedding_model",
            (gym_id, title, body, lang, tags, pgvector(vector), embedder.name),
        )
    return len(docs)


def seed_classes(conn: psycopg.Connection[Any], gym_id: UUID, *, days: int = 14) -> int:
    """A recurring schedule for the next `days` days (gym's local time), skipped for the days
    that already have classes."""
    row = conn.execute(
        "select (now() at time zone timezone)::date as today from gyms where id = %s", (gym_id,)
    ).fetchone()
    if row is None:
        raise ValueError(f"no gym {gym_id}")
    today: date = row[0] if isinstance(row, tuple) else row["today"]
    created = 0
    for offset in range(days):
        day = today + timedelta(days=offset)
        found = conn.execute(
            "select 1 from classes c join gyms g on g.id = c.gym_id where c.gym_id = %s "
            "and (c.starts_at at time zone g.timezone)::date = %s limit 1",
            (gym_id, day),
        ).fetchone()
        if found is not None:
            continue
        for name, weekdays, start, minutes, capacity, waitlist, coach, room in CLASSES:
            if day.weekday() not in weekdays:
                continue
            conn.execute(
                "insert into classes (gym_id, name, coach, room, starts_at, duration_min, "
                "capacity, waitlist_capacity) select g.id, %s, %s, %s, "
                "(%s::date + %s::time) at time zone g.timezone, %s, %s, %s "
                "from gyms g where g.id = %s",
                (name, coach, room, day, start, minutes, capacity, waitlist, gym_id),
            )
            created += 1
    return created
