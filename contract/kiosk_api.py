"""The kiosk ↔ cloud HTTP API: paths and wire models, shared by both sides.

Pydantic only (the kiosk never installs the cloud's stack). Every model forbids unknown
fields and bounds its sizes, so bad input is a clear 422 rather than a surprise. Times are
timezone-aware UTC; ids made on the kiosk (sessions, events) are UUIDs, which is what makes
uploads idempotent.

Authentication (see docs/API.md):
  1. `POST PROVISION_CLAIM` with the installer's six-character code → a per-kiosk credential
     (shown once) and the kiosk's identity and config.
  2. `POST TOKEN` with the kiosk id and credential → a short-lived bearer token.
  3. Every other call carries `Authorization: Bearer <token>`.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

from contract.badge import CanonicalBadgeId
from contract.errors import ErrorCode
from contract.pricing import TokenUsage

# -- paths ----------------------------------------------------------------------------------

PROVISION_CLAIM = "/api/kiosk/provision"
TOKEN = "/api/kiosk/token"  # noqa: S105 - a path, not a secret
CREDENTIAL_ROTATE = "/api/kiosk/credential/rotate"
HEARTBEAT = "/api/kiosk/heartbeat"
SESSIONS = "/api/kiosk/sessions"
EVENTS = "/api/kiosk/events"
MEMBER_BY_BADGE = "/api/kiosk/members/by-badge/{badge_id}"
MEMBER_SYNC = "/api/kiosk/members"
VOICE_START = "/api/voice/sessions"
TOOL_CALL = "/api/jarvis/tools/{name}"
HEALTH = "/health"

# Answered by every JARVIS cloud at HEALTH; lets an installer's kiosk tell "this is not a
# JARVIS cloud" apart from "the cloud is down".
SERVICE_NAME = "jarvis-cloud"

ShortText = Annotated[str, StringConstraints(max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=4000)]


class WireModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _figure(value: float) -> float:
    return round(value, 3)


# A measured figure (percent, °C, load): three decimals are plenty, and rounding keeps
# denormal floats out of the database.
Figure = Annotated[float, AfterValidator(_figure)]


# -- errors ---------------------------------------------------------------------------------


class ErrorDetail(WireModel):
    # A code this side does not know yet (a newer cloud) stays a plain string: the caller
    # then falls back on the HTTP status.
    code: ErrorCode | str = Field(
        union_mode="left_to_right",
        description="Stable machine-readable code: a `contract.errors.ErrorCode` value, listed "
        "with its status and what to do in docs/API.md. Match it by table, never by substring.",
    )
    message: str = Field(description="One human sentence saying what happened and what to do.")
    details: Any = None


class ErrorBody(WireModel):
    """Every 4xx/5xx answer of the API has this body."""

    error: ErrorDetail


# -- provisioning and credentials -----------------------------------------------------------


class KioskConfig(WireModel):
    """What the cloud wants the kiosk to run with; re-sent with every heartbeat answer."""

    voice: ShortText = "alloy"
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")] = "fr"
    openai_model: ShortText = "gpt-realtime-mini"
    heartbeat_interval_s: int = Field(default=30, ge=5, le=3600)
    member_sync_interval_s: int = Field(default=300, ge=30, le=86400)
    max_session_s: int = Field(default=300, ge=30, le=3600)
    idle_timeout_s: int = Field(default=20, ge=5, le=300)
    upload_batch_size: int = Field(default=50, ge=1, le=100)


class ClaimRequest(WireModel):
    code: Annotated[str, StringConstraints(min_length=1, max_length=32)] = Field(
        description="The six-character code, in any case, with spaces or dashes."
    )
    device_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    hardware_info: dict[str, Any] = Field(default_factory=dict, max_length=64)
    software_version: ShortText | None = None


class ClaimResponse(WireModel):
    kiosk_id: UUID
    kiosk_slug: str
    kiosk_name: str
    gym_id: UUID
    gym_slug: str
    gym_name: str
    credential: str = Field(description="The kiosk's secret. Shown once; store it with mode 0600.")
    config: KioskConfig


class TokenRequest(WireModel):
    kiosk_id: UUID
    credential: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class TokenResponse(WireModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int = Field(description="Seconds until the token expires.")


class RotateResponse(WireModel):
    credential: str = Field(description="The new credential; store it with mode 0600.")
    old_credential_valid_until: AwareDatetime


# -- heartbeat ------------------------------------------------------------------------------


class KioskStatus(StrEnum):
    ONLINE = "online"
    ERROR = "error"
    MAINTENANCE = "maintenance"


class KioskHealth(WireModel):
    cpu_percent: Figure | None = Field(default=None, ge=0, le=100)
    cpu_temp_c: Figure | None = Field(default=None, ge=-50, le=150)
    load_1m: Figure | None = Field(default=None, ge=0)
    memory_percent: Figure | None = Field(default=None, ge=0, le=100)
    disk_percent: Figure | None = Field(default=None, ge=0, le=100)
    uptime_s: Figure | None = Field(default=None, ge=0)
    mic_ok: bool | None = None
    reader_ok: bool | None = None
    network_ok: bool | None = None
    disk_nearly_full: bool = False
    store_ok: bool = True
    extra: dict[str, Any] = Field(default_factory=dict, max_length=32)


class HeartbeatRequest(WireModel):
    status: KioskStatus = KioskStatus.ONLINE
    software_version: ShortText
    health: KioskHealth = Field(default_factory=KioskHealth)
    outbox_depth: int = Field(default=0, ge=0)
    last_error: LongText | None = None
    sent_at: AwareDatetime | None = None


class CommandKind(StrEnum):
    ROTATE_CREDENTIAL = "rotate_credential"
    REPROVISION = "reprovision"


class KioskCommand(WireModel):
    kind: CommandKind
    reason: ShortText = ""


class HeartbeatResponse(WireModel):
    config: KioskConfig
    commands: list[KioskCommand] = Field(default_factory=list)
    server_time: AwareDatetime


# -- members --------------------------------------------------------------------------------


class MembershipStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    SUSPENDED = "suspended"
    UNKNOWN = "unknown"


class MemberPreferences(WireModel):
    communication_style: str = "friendly"
    voice_preference: str | None = None


class MemberCard(WireModel):
    """What a kiosk needs to greet (or turn away) a badge, online or from its cache."""

    badge_id: CanonicalBadgeId
    status: MembershipStatus
    member_id: UUID | None = None
    first_name: str | None = None
    language: str | None = None
    preferences: MemberPreferences | None = None
    membership_expires_on: date | None = None


class MemberSyncPage(WireModel):
    """A page of the gym's badges changed since `cursor`; follow `next_cursor` until done."""

    members: list[MemberCard]
    next_cursor: str
    has_more: bool


# -- sessions and events --------------------------------------------------------------------


class EndReason(StrEnum):
    GOODBYE = "goodbye"
    IDLE_TIMEOUT = "idle_timeout"
    MAX_DURATION = "max_duration"
    NEW_BADGE = "new_badge"
    TOOL_END_SESSION = "tool_end_session"
    NETWORK_ERROR = "network_error"
    REALTIME_ERROR = "realtime_error"
    BUDGET_EXCEEDED = "budget_exceeded"
    KIOSK_SHUTDOWN = "kiosk_shutdown"
    CANCELLED = "cancelled"


class Turn(WireModel):
    index: int = Field(ge=0, le=10_000)
    role: Literal["user", "assistant", "tool"]
    content: Annotated[str, StringConstraints(max_length=20_000)] = ""
    item_id: ShortText | None = None
    started_at: AwareDatetime | None = None
    audio_ms: int | None = Field(default=None, ge=0)


class ToolCallRecord(WireModel):
    call_id: ShortText
    name: ShortText
    arguments: dict[str, Any] = Field(default_factory=dict)
    ok: bool
    error: LongText | None = None
    duration_ms: int | None = Field(default=None, ge=0)


class Latency(WireModel):
    """Per session, in ms: end of member speech → first audio received / first sample played."""

    first_response_ms: int | None = Field(default=None, ge=0)
    avg_response_ms: int | None = Field(default=None, ge=0)
    p95_response_ms: int | None = Field(default=None, ge=0)
    avg_playback_ms: int | None = Field(default=None, ge=0)


class SessionRecord(WireModel):
    id: UUID = Field(description="Made on the kiosk; uploads are idempotent on it.")
    member_id: UUID | None
    started_at: AwareDatetime
    ended_at: AwareDatetime
    end_reason: EndReason
    model: ShortText
    voice: ShortText | None = None
    language: ShortText | None = None
    usage: TokenUsage = Field(default_factory=TokenUsage)
    transcription_tokens: int = Field(default=0, ge=0)
    latency: Latency = Field(default_factory=Latency)
    turns: list[Turn] = Field(default_factory=list, max_length=2000)
    tool_calls: list[ToolCallRecord] = Field(default_factory=list, max_length=500)
    errors: list[LongText] = Field(default_factory=list, max_length=100)


class SessionBatch(WireModel):
    sessions: list[SessionRecord] = Field(min_length=1, max_length=100)


class UploadOutcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"  # already stored by an earlier upload: nothing changed
    REJECTED = "rejected"  # will never be accepted (e.g. not this gym's member): drop it


class UploadResult(WireModel):
    id: UUID
    outcome: UploadOutcome
    message: str | None = None


class BatchResult(WireModel):
    results: list[UploadResult]


class EventKind(StrEnum):
    BADGE_REFUSED = "badge_refused"
    BADGE_UNKNOWN = "badge_unknown"
    SESSION_REFUSED = "session_refused"
    AGENT_STARTED = "agent_started"
    AGENT_ERROR = "agent_error"


class KioskEvent(WireModel):
    id: UUID
    kind: EventKind
    occurred_at: AwareDatetime
    badge_id: CanonicalBadgeId | None = None
    member_id: UUID | None = None
    detail: dict[str, Any] = Field(default_factory=dict, max_length=32)


class EventBatch(WireModel):
    events: list[KioskEvent] = Field(min_length=1, max_length=200)


# -- voice and tools ------------------------------------------------------------------------


class VoiceStartRequest(WireModel):
    session_id: UUID = Field(description="The id the kiosk will file the session record under.")
    member_id: UUID


class VoiceStartResponse(WireModel):
    client_secret: str = Field(description="Ephemeral Realtime key (ek_...), never the org key.")
    expires_at: datetime
    model: str
    realtime_url: str = Field(description="WebSocket URL to connect to with the client secret.")
    session: dict[str, Any] = Field(description="The GA `session.update` payload to send.")


class ToolCallRequest(WireModel):
    session_id: UUID
    member_id: UUID
    call_id: ShortText
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolCallResponse(WireModel):
    ok: bool
    output: dict[str, Any] | None = None
    error: str | None = Field(default=None, description="A sentence the assistant can say.")
    end_session: bool = False
