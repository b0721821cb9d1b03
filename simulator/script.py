"""What the simulated model hears and says: a small, deterministic conversation script.

A script is a list of turns. Each time the server VAD (or the client) commits the member's
speech, the next turn gives the transcript of what the member said and what JARVIS answers,
optionally after calling one of the session's tools. Answers are spoken as real PCM16 audio
(espeak-ng when it is installed, a tone otherwise), so durations, usage and barge-in behave
like the real service while every run says the same words.

    {
      "language": "fr",
      "greeting": "Bonjour Julie ! Que puis-je faire pour toi ?",
      "fallback": "Peux-tu répéter, s'il te plaît ?",
      "turns": [
        {"member": "Quels sont mes cours cette semaine ?",
         "before_tool": "Je regarde ton planning.",
         "tool": {"name": "get_class_schedule", "arguments": {"day": "today", "days": 7}},
         "assistant": "Tu as yoga mardi à dix-huit heures."},
        {"member": "Merci, au revoir !", "assistant": "Au revoir Julie, bonne séance !"}
      ]
    }
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class Fault(StrEnum):
    """Failures a turn can make the server produce, to test a client's error handling."""

    DISCONNECT = "disconnect"
    """Drop the connection (close code 1011) once the member's speech is committed. The turn
    is not consumed: the member's next speech, on a new connection, replays it."""
    SERVER_ERROR = "server_error"
    """Send a `server_error` error event, then close with code 1011 (retryable)."""
    INSUFFICIENT_QUOTA = "insufficient_quota"
    """Fail the response (`response.done` status `failed`, `insufficient_quota`)."""


class ScriptModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScriptedToolCall(ScriptModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    arguments: dict[str, Any] = Field(default_factory=dict)


class ScriptTurn(ScriptModel):
    member: Text = Field(description="What the member says: the input transcription.")
    assistant: Text = Field(description="What JARVIS answers (after the tool, if any).")
    before_tool: Text | None = Field(
        default=None, description="Spoken in the same response, before the tool call."
    )
    tool: ScriptedToolCall | None = Field(
        default=None,
        description="A tool JARVIS calls first. Only called when the session declares a tool "
        "of that name (a real model cannot call undeclared tools); otherwise JARVIS answers "
        "directly.",
    )
    fault: Fault | None = None


DEFAULT_TEXTS: dict[str, tuple[str, str]] = {
    "fr": ("Bonjour ! Que puis-je faire pour toi ?", "Peux-tu répéter, s'il te plaît ?"),
    "en": ("Hello! How can I help you today?", "Sorry, could you say that again?"),
}


class Script(ScriptModel):
    language: Literal["fr", "en"] = "fr"
    greeting: Text | None = Field(
        default=None,
        description="Spoken when the client asks for a response before the member said "
        "anything (the kiosk greets the member). Default: a neutral greeting.",
    )
    fallback: Text | None = Field(
        default=None,
        description="Spoken for speech past the last turn. Default: a request to repeat.",
    )
    turns: list[ScriptTurn] = Field(default_factory=list, max_length=500)

    @property
    def greeting_text(self) -> str:
        return self.greeting or DEFAULT_TEXTS[self.language][0]

    @property
    def fallback_text(self) -> str:
        return self.fallback or DEFAULT_TEXTS[self.language][1]

    def spoken_texts(self) -> list[str]:
        """Everything the script can make JARVIS say (rendered once, at start)."""
        texts = [self.greeting_text, self.fallback_text]
        for turn in self.turns:
            texts.append(turn.assistant)
            if turn.before_tool:
                texts.append(turn.before_tool)
        return texts

    @classmethod
    def load(cls, path: Path) -> Script:
        """Read a script from a JSON file (raises pydantic's ValidationError when invalid)."""
        return cls.model_validate_json(path.read_text(encoding="utf-8"))


DEMO_SCRIPT = Script(
    language="fr",
    greeting="Bonjour ! Ravi de te revoir à la salle. Que puis-je faire pour toi ?",
    turns=[
        ScriptTurn(
            member="Quels sont mes cours cette semaine ?",
            before_tool="Je regarde le planning.",
            tool=ScriptedToolCall(name="get_class_schedule", arguments={"day": "today", "days": 7}),
            assistant="Cette semaine, tu as yoga mardi à dix-huit heures et spinning jeudi à midi.",
        ),
        ScriptTurn(
            member="Et la salle ferme à quelle heure ce soir ?",
            tool=ScriptedToolCall(name="get_opening_hours", arguments={"day": "today"}),
            assistant="Ce soir, la salle ferme à vingt-deux heures.",
        ),
        # An unhappy member reporting broken equipment: the pipeline's showcase (a summary,
        # a negative sentiment, an equipment alert and a negative-feedback alert by email).
        ScriptTurn(
            member="Par contre, le tapis de course numéro trois est encore en panne. "
            "C'est vraiment pénible, j'en ai marre.",
            before_tool="Je suis désolé.",
            tool=ScriptedToolCall(
                name="report_equipment_issue",
                arguments={
                    "equipment": "tapis de course 3",
                    "problem": "encore en panne",
                    "location": "zone cardio",
                    "severity": "high",
                },
            ),
            assistant="Je préviens l'équipe tout de suite, ils vont s'en occuper.",
        ),
        ScriptTurn(
            member="Au revoir.",
            before_tool="Bonne séance !",
            tool=ScriptedToolCall(name="end_session", arguments={"reason": "goodbye"}),
            assistant="À bientôt !",
        ),
    ],
)
"""The conversation `jarvis-cloud simulator` plays when no script is given; its tools are the
cloud's own (`cloud_api.tools.registry`), so the demo's kiosk runs them for real."""


UNHAPPY_SCRIPT = Script(
    language="fr",
    greeting="Bonjour ! Comment ça va aujourd'hui ?",
    turns=[
        ScriptTurn(
            member="Franchement pas terrible. Je suis déçu, il y a trop de monde et les machines "
            "sont souvent en panne. Je pense arrêter mon abonnement.",
            before_tool="Je comprends ta frustration, je suis désolé.",
            tool=ScriptedToolCall(
                name="escalate_to_staff",
                arguments={
                    "reason": "membre mécontent (affluence, pannes) qui pense résilier",
                    "urgency": "high",
                },
            ),
            assistant="J'ai demandé au responsable de te rappeler pour en parler.",
        ),
        ScriptTurn(
            member="Bon. On verra, mais je suis vraiment fatigué de tout ça.",
            tool=ScriptedToolCall(name="get_opening_hours", arguments={"day": "today"}),
            assistant="Si tu veux éviter la foule, la salle est plus calme après vingt heures.",
        ),
        ScriptTurn(
            member="Au revoir.",
            before_tool="Merci de m'en avoir parlé.",
            tool=ScriptedToolCall(name="end_session", arguments={"reason": "goodbye"}),
            assistant="Au revoir, à bientôt j'espère.",
        ),
    ],
)
"""An unhappy member thinking of leaving: a staff escalation, and a negative conversation."""

DEMO_CONVERSATIONS = (DEMO_SCRIPT, UNHAPPY_SCRIPT)
"""The demo's conversations, one per voice session in turn (`simulator --demo-conversations`):
a member asking about classes who reports a broken treadmill, then another member, unhappy,
thinking of leaving."""
