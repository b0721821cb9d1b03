"""The session record a finished (or refused-at-the-last-moment) voice session leaves:
what the conversation reported, trimmed to what the cloud accepts, with the kiosk's facts."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from contract.kiosk_api import (
    EndReason,
    KioskConfig,
    MemberCard,
    SessionRecord,
    VoiceStartResponse,
)
from kiosk_agent.core.conversation import SessionFacts

MAX_TURNS = 2000
MAX_TOOL_CALLS = 500
MAX_ERRORS = 100
MAX_ERROR_CHARS = 4000


def build_session_record(
    *,
    session_id: UUID,
    member: MemberCard,
    start: VoiceStartResponse | None,
    config: KioskConfig,
    facts: SessionFacts,
    reason: EndReason,
    started_at: datetime,
    ended_at: datetime,
) -> SessionRecord:
    """The record to keep; what had to be dropped to fit is said in its errors."""
    errors = list(facts.errors)
    turns = list(facts.turns)
    if len(turns) > MAX_TURNS:
        errors.append(f"{len(turns) - MAX_TURNS} turns past the {MAX_TURNS}-turn limit dropped")
        turns = turns[:MAX_TURNS]
    tools = list(facts.tool_calls)
    if len(tools) > MAX_TOOL_CALLS:
        errors.append(f"{len(tools) - MAX_TOOL_CALLS} tool calls past the limit dropped")
        tools = tools[:MAX_TOOL_CALLS]
    if len(errors) > MAX_ERRORS:
        errors = [*errors[: MAX_ERRORS - 1], f"{len(errors) - MAX_ERRORS + 1} more errors"]
    errors = [_shorten(e, MAX_ERROR_CHARS) for e in errors]
    return SessionRecord(
        id=session_id,
        member_id=member.member_id,
        started_at=started_at,
        ended_at=max(ended_at, started_at),
        end_reason=reason,
        model=start.model if start else config.openai_model,
        voice=_voice_of(start) or config.voice,
        language=member.language or config.language,
        usage=facts.usage,
        transcription_tokens=facts.transcription.tokens,
        transcription=facts.transcription,
        latency=facts.latency,
        turns=turns,
        tool_calls=tools,
        reconnects=list(facts.reconnects[:100]),
        errors=errors,
    )


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _voice_of(start: VoiceStartResponse | None) -> str | None:
    """The voice the cloud configured the session with (``session.audio.output.voice``)."""
    if start is None:
        return None
    audio = start.session.get("audio")
    output = audio.get("output") if isinstance(audio, dict) else None
    voice = output.get("voice") if isinstance(output, dict) else None
    return voice if isinstance(voice, str) and len(voice) <= 200 else None
