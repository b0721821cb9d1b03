"""The kiosk state machine's vocabulary: its states, the inputs it is fed (each with the
moment it happened) and the effects it asks the shell to carry out. See machine.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from contract.kiosk_api import (
    EndReason,
    KioskConfig,
    KioskEvent,
    MemberCard,
    SessionRecord,
    VoiceStartResponse,
)
from kiosk_agent.core.conversation import SessionFacts
from kiosk_agent.core.messages import Notice


@dataclass(frozen=True, slots=True)
class Moment:
    """When an input happened: wall clock for records, monotonic clock for durations."""

    wall: datetime
    """Timezone-aware UTC."""
    mono: float
    """``time.monotonic()`` seconds."""


class AgentState(StrEnum):
    STARTING = "starting"
    UNPROVISIONED = "unprovisioned"
    OUT_OF_SERVICE = "out_of_service"
    OFFLINE = "offline"
    IDLE = "idle"
    MEMBER_CHECK = "member_check"
    STARTING_SESSION = "starting_session"
    IN_SESSION = "in_session"
    CLOSING = "closing"
    STOPPED = "stopped"


REST_STATES = frozenset(
    {AgentState.UNPROVISIONED, AgentState.OUT_OF_SERVICE, AgentState.OFFLINE, AgentState.IDLE}
)


class MemberSource(StrEnum):
    CLOUD = "cloud"
    LOCAL = "local"
    """The local member cache, asked first (an active member): the cloud checks the member
    again when it starts the voice session, so no round trip is spent before it."""
    CACHE = "cache"
    """The cloud did not answer in time; the local member cache did."""
    NONE = "none"
    """Neither could say: the cloud did not answer and the cache was never filled."""


# -- inputs ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentStarted:
    at: Moment
    provisioned: bool
    store_ok: bool = True


@dataclass(frozen=True, slots=True)
class ProvisioningChanged:
    at: Moment
    provisioned: bool


@dataclass(frozen=True, slots=True)
class ConfigApplied:
    at: Moment
    config: KioskConfig


@dataclass(frozen=True, slots=True)
class CloudReachable:
    at: Moment


@dataclass(frozen=True, slots=True)
class CloudUnreachable:
    at: Moment
    reason: str


@dataclass(frozen=True, slots=True)
class StoreHealth:
    at: Moment
    ok: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class BadgeTapped:
    at: Moment
    badge_id: str
    """Canonical badge id (contract.badge)."""


@dataclass(frozen=True, slots=True)
class MemberChecked:
    at: Moment
    check_id: int
    card: MemberCard | None
    source: MemberSource


@dataclass(frozen=True, slots=True)
class VoiceStarted:
    at: Moment
    session_id: UUID
    start: VoiceStartResponse


@dataclass(frozen=True, slots=True)
class VoiceStartFailed:
    at: Moment
    session_id: UUID
    code: str
    """The cloud's error code as sent (an ``ErrorCode`` value such as
    ``daily_budget_exhausted``, or one a newer cloud added), or what the kiosk itself saw:
    ``cloud_unreachable``, ``credential_rejected``, ``not_provisioned``."""
    message: str
    network: bool = False
    """True when the cloud could not be reached at all."""
    status: int | None = None
    """The HTTP status of the cloud's answer (None: no answer): how a code this kiosk does
    not know is handled."""
    say: str | None = None
    """The cloud's own sentence for the member, when it gave one (voice refusals do)."""
    say_language: str | None = None


@dataclass(frozen=True, slots=True)
class ConversationEnded:
    at: Moment
    session_id: UUID
    facts: SessionFacts


@dataclass(frozen=True, slots=True)
class Tick:
    at: Moment


@dataclass(frozen=True, slots=True)
class ShutdownRequested:
    at: Moment


Input = (
    AgentStarted
    | ProvisioningChanged
    | ConfigApplied
    | CloudReachable
    | CloudUnreachable
    | StoreHealth
    | BadgeTapped
    | MemberChecked
    | VoiceStarted
    | VoiceStartFailed
    | ConversationEnded
    | Tick
    | ShutdownRequested
)


# -- effects --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LookupMember:
    """Ask the cloud about the badge (cache on timeout) and answer with MemberChecked."""

    check_id: int
    badge_id: str


@dataclass(frozen=True, slots=True)
class StartVoice:
    """Ask the cloud to start a voice session; answer with VoiceStarted or VoiceStartFailed."""

    session_id: UUID
    member: MemberCard


@dataclass(frozen=True, slots=True)
class StartConversation:
    session_id: UUID
    member: MemberCard
    start: VoiceStartResponse


@dataclass(frozen=True, slots=True)
class EndConversation:
    """Ask the conversation to close politely; answer with ConversationEnded."""

    session_id: UUID
    reason: EndReason


@dataclass(frozen=True, slots=True)
class Announce:
    """Show (and, when ``spoken``, say) a sentence to the member."""

    notice: Notice
    text: str
    language: str
    spoken: bool = True


@dataclass(frozen=True, slots=True)
class RecordEvent:
    """Write the event to the outbox."""

    event: KioskEvent


@dataclass(frozen=True, slots=True)
class RecordSession:
    """Write the session record to the outbox (durably) before anything uploads it."""

    record: SessionRecord


@dataclass(frozen=True, slots=True)
class StateChanged:
    state: AgentState
    detail: str


@dataclass(frozen=True, slots=True)
class Stopped:
    """Nothing is left to close: the shell may exit."""


Effect = (
    LookupMember
    | StartVoice
    | StartConversation
    | EndConversation
    | Announce
    | RecordEvent
    | RecordSession
    | StateChanged
    | Stopped
)
