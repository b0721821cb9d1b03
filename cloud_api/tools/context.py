"""What a tool runs with: the caller's transaction, who is asking, and how to fail politely."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from openai import AsyncOpenAI

from cloud_api.config import CloudSettings
from cloud_api.data import audit as audit_log
from cloud_api.db.database import Conn
from cloud_api.tools.hours import OpeningHours, text_language


@dataclass(frozen=True)
class Gym:
    id: UUID
    name: str
    city: str | None
    timezone: str
    opening_hours: OpeningHours
    local_now: datetime
    """Now in the gym's timezone (naive local wall time)."""


@dataclass(frozen=True)
class Caller:
    """The kiosk, the member it is talking to and the voice session the call belongs to."""

    kiosk_id: UUID
    kiosk_language: str
    gym: Gym
    member_id: UUID
    first_name: str
    member_language: str | None
    session_id: UUID

    @property
    def language(self) -> str:
        """The language sentences to the member use (fr or en)."""
        return text_language(self.member_language or self.kiosk_language)


@dataclass(frozen=True)
class ToolContext:
    conn: Conn
    """A transaction under the kiosk's claims: row-level security decides what it touches."""
    caller: Caller
    settings: CloudSettings
    openai: AsyncOpenAI | None = None
    """The app's OpenAI client when the cloud has a key, else None."""


@dataclass(frozen=True)
class ToolOutcome:
    output: dict[str, Any] = field(default_factory=dict)
    end_session: bool = False


class ToolFailure(Exception):
    """A failure the assistant tells the member: `message` is a sentence it can say. The
    tool's database changes are rolled back."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def local_time(value: datetime) -> str:
    """A local wall time as the assistant should read it ("2026-11-23 18:30")."""
    return value.strftime("%Y-%m-%d %H:%M")


async def audit(
    ctx: ToolContext, action: str, target_type: str, target_id: Any, details: dict[str, Any]
) -> None:
    """An audit-log entry by the calling kiosk (allowed by RLS for its own gym only)."""
    caller = {"member_id": str(ctx.caller.member_id), "session_id": str(ctx.caller.session_id)}
    await audit_log.record(
        ctx.conn, audit_log.CALLING_KIOSK, action, target_type, target_id, {**caller, **details}
    )
