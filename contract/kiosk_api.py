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
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
)
from typing_extensions import TypeAliasType

from contract.badge import CanonicalBadgeId
from contract.errors import ErrorCode
from contract.pricing import TokenCount, TokenUsage, TranscriptionUsage, a_number
from provisioning.code import INPUT_PATTERN as CODE_INPUT_PATTERN

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
VOICE_STANDBY = "/api/voice/standby"
TOOL_CALL = "/api/jarvis/tools/{name}"
HEALTH = "/health"

# The largest request body each call accepts (bytes): the cloud refuses a larger one with 413
# while reading it, before anything else. A kiosk splits a refused batch and sends it again.
KIB = 1024
BODY_LIMITS: dict[str, int] = {
    PROVISION_CLAIM: 16 * KIB,
    TOKEN: 4 * KIB,
    HEARTBEAT: 64 * KIB,
    SESSIONS: 8 * KIB * KIB,
    EVENTS: KIB * KIB,
    VOICE_START: 4 * KIB,
    TOOL_CALL: 64 * KIB,
}

# Answered by every JARVIS cloud at HEALTH; lets an installer's kiosk tell "this is not a
# JARVIS cloud" apart from "the cloud is down".
SERVICE_NAME = "jarvis-cloud"

# Text the cloud stores: Postgres text (and jsonb) cannot hold a NUL character, so no wire text
# may carry one, and the schema says so (a request it allows is never refused).
NO_NUL = r"^[^\x00]*$"
NulFreeText = Annotated[str, StringConstraints(pattern=NO_NUL)]
ShortText = Annotated[str, StringConstraints(max_length=200, pattern=NO_NUL)]
LongText = Annotated[str, StringConstraints(max_length=4000, pattern=NO_NUL)]


class WireModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _figure(value: float) -> float:
    return round(value, 3)


# A measured figure (percent, °C, load): three decimals are plenty, and rounding keeps
# denormal floats out of the database.
# Durations in ms (at most a day) and a kiosk's queue length: bounded, as the database's
# integers are.
Milliseconds = Annotated[int, Field(ge=0, le=86_400_000), BeforeValidator(a_number)]
# true or false on the wire, as the schema says (lax validation would take 0, 1.0 or "yes").
Flag = Annotated[bool, Strict()]
# (Bounds go inside the type, before the rounding, so that the schema states them.)
Percent = Annotated[float, Field(ge=0, le=100), AfterValidator(_figure)]
Celsius = Annotated[float, Field(ge=-50, le=150), AfterValidator(_figure)]
Amount = Annotated[float, Field(ge=0), AfterValidator(_figure)]


# Free-form JSON a kiosk sends (hardware facts, health extras, event details, tool
# arguments) is nested at most this deep; deeper is refused with 422 before it reaches the
# serializers and the database, which have depth limits of their own (a 500, otherwise).
MAX_JSON_DEPTH = 16


def _not_too_deep(value: dict[str, Any]) -> dict[str, Any]:
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:  # no recursion: the input decides how deep this goes
        item, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
        children = item.values() if isinstance(item, dict) else item
        pending.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return value


# Any JSON, with NUL-free text (keys too: no other key is allowed).
NO_OTHER_KEYS = Field(json_schema_extra={"additionalProperties": False})
JsonData = TypeAliasType(
    "JsonData",
    "NulFreeText | int | float | bool | list[JsonData] "
    "| Annotated[dict[NulFreeText, JsonData], NO_OTHER_KEYS] | None",
)
JsonObject = Annotated[
    dict[NulFreeText, JsonData],
    NO_OTHER_KEYS,
    AfterValidator(_not_too_deep),
    Field(description=f"A JSON object nested at most {MAX_JSON_DEPTH} levels deep."),
]

# A tool call's arguments as the model wrote them: any JSON (bounded in depth). Text is
# checked by the tool's own argument schema, which refuses what the model can fix (a NUL,
# say) with a sentence it can act on, not the whole call.
AnyNumber = Annotated[float, Field(allow_inf_nan=True)]  # NaN too: the tool refuses it
AnyJson = TypeAliasType(
    "AnyJson", "str | int | AnyNumber | bool | list[AnyJson] | dict[str, AnyJson] | None"
)
ToolArguments = Annotated[
    dict[str, AnyJson],
    AfterValidator(_not_too_deep),
    Field(
        description=f"The model's arguments: a JSON object nested at most {MAX_JSON_DEPTH} "
        "levels deep, checked against the tool's schema."
    ),
]


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
        description="The six-character code, in any case, with spaces or dashes.",
        # Documented, and checked by the cloud (422 `code_malformed`), not here: the kiosk
        # reads what the installer types with the same rules (provisioning.code).
        json_schema_extra={"pattern": CODE_INPUT_PATTERN},
    )
    device_id: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=NO_NUL)]
    hardware_info: JsonObject = Field(default_factory=dict, max_length=64)
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


class DroppedBadgeIds(WireModel):
    """Partial badge ids a keyboard-wedge reader threw away, by reason (0 for other kinds)."""

    gap: int = Field(
        default=0,
        ge=0,
        description="Keys stopped mid-id: a half-read card, a person typing, or a reader that "
        "sends no suffix.",
    )
    garbage: int = Field(default=0, ge=0, description="A key no badge contains was pressed.")
    too_long: int = Field(default=0, ge=0, description="Longer than any badge id.")
    unplugged: int = Field(default=0, ge=0, description="The reader went away mid-id.")


class ReaderReport(WireModel):
    """The badge reader's figures since the agent started, and what they suggest."""

    state: ShortText | None = Field(
        default=None, description="`starting`, `ready`, `unavailable` or `stopped`."
    )
    reads: int = Field(default=0, ge=0, description="Badges the reader handed to the kiosk.")
    rejected: int = Field(
        default=0, ge=0, description="Reads whose text did not fit the reader's badge rules."
    )
    repeats_ignored: int = Field(
        default=0,
        ge=0,
        description="Taps of the same badge within the debounce window (a card held on the "
        "reader, an impatient second tap).",
    )
    dropped: DroppedBadgeIds = Field(default_factory=DroppedBadgeIds)
    last_read_at: AwareDatetime | None = None
    recent_shapes: list[ShortText] = Field(
        default_factory=list,
        max_length=20,
        description="Kind and length of the latest raw reads, oldest first (`decimal:10`, "
        "`hex:8`): never the digits.",
    )
    advice: LongText | None = Field(
        default=None,
        description="What the installer should change when the figures say the reader is set "
        "up wrong (a decimal reader on hex rules, no suffix).",
    )


class KioskHealth(WireModel):
    cpu_percent: Percent | None = None
    cpu_temp_c: Celsius | None = None
    load_1m: Amount | None = None
    memory_percent: Percent | None = None
    disk_percent: Percent | None = None
    uptime_s: Amount | None = None
    mic_ok: Flag | None = None
    reader_ok: Flag | None = None
    network_ok: Flag | None = None
    disk_nearly_full: Flag = False
    store_ok: Flag = True
    reader: ReaderReport | None = None
    extra: JsonObject = Field(default_factory=dict, max_length=32)


class HeartbeatRequest(WireModel):
    status: KioskStatus = KioskStatus.ONLINE
    software_version: ShortText
    health: KioskHealth = Field(default_factory=KioskHealth)
    outbox_depth: int = Field(default=0, ge=0, le=10_000_000)
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
    has_more: Flag


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
    content: Annotated[str, StringConstraints(max_length=20_000, pattern=NO_NUL)] = ""
    item_id: ShortText | None = None
    started_at: AwareDatetime | None = None
    audio_ms: Milliseconds | None = Field(
        default=None,
        description="The member's speech; for JARVIS, the audio the member actually heard.",
    )
    # An answer's figures (assistant turns that answer the member's words):
    response_ms: Milliseconds | None = Field(
        default=None, description="End of the member's words → first answer audio received."
    )
    playback_ms: Milliseconds | None = Field(
        default=None, description="End of the member's words → first answer sample played."
    )
    interrupted: Flag | None = Field(
        default=None,
        description="JARVIS's audio was cut short: the member spoke over it, or the connection "
        "dropped (then the answer was asked for again).",
    )
    after_reconnect: Flag | None = Field(
        default=None, description="The answer came on a new connection (the first was lost)."
    )


class ToolCallRecord(WireModel):
    call_id: ShortText
    name: ShortText
    arguments: JsonObject = Field(default_factory=dict)
    ok: Flag
    error: LongText | None = None
    duration_ms: Milliseconds | None = None


class Latency(WireModel):
    """Per session, in ms: end of member speech → first audio received / first sample played."""

    first_response_ms: Milliseconds | None = None
    avg_response_ms: Milliseconds | None = None
    p95_response_ms: Milliseconds | None = None
    avg_playback_ms: Milliseconds | None = None
    greeting_ms: Milliseconds | None = Field(
        default=None, description="The badge tap → the greeting's first sample played."
    )


class Reconnection(WireModel):
    """A Realtime connection lost during a session, and what became of it."""

    at: AwareDatetime = Field(description="When the connection was lost.")
    cause: LongText = Field(description="The close code and reason, or why connecting failed.")
    attempt: int = Field(ge=1, le=100, description="Losses in a row, this one included.")
    resumed_after_ms: Milliseconds | None = Field(
        default=None, description="Until the next connection was configured; null: never."
    )
    asked_again: Flag = Field(
        default=False,
        description="The member was waiting for an answer (or the greeting): it was asked for "
        "again on the new connection.",
    )


class SessionRecord(WireModel):
    id: UUID = Field(description="Made on the kiosk; uploads are idempotent on it.")
    member_id: UUID | None
    started_at: AwareDatetime
    ended_at: AwareDatetime
    end_reason: EndReason
    model: ShortText
    voice: ShortText | None = None
    language: ShortText | None = None
    usage: TokenUsage = Field(
        default_factory=TokenUsage,
        description="Realtime tokens by kind over every response.done (cancelled included).",
    )
    transcription_tokens: TokenCount = Field(
        default=0, description="All transcription tokens (see `transcription`)."
    )
    transcription: TranscriptionUsage = Field(
        default_factory=TranscriptionUsage,
        description="The member's words transcribed, by kind, with the transcription model.",
    )
    latency: Latency = Field(default_factory=Latency)
    turns: list[Turn] = Field(default_factory=list, max_length=2000)
    tool_calls: list[ToolCallRecord] = Field(default_factory=list, max_length=500)
    reconnects: list[Reconnection] = Field(default_factory=list, max_length=100)
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
    detail: JsonObject = Field(default_factory=dict, max_length=32)


class EventBatch(WireModel):
    events: list[KioskEvent] = Field(min_length=1, max_length=200)


# -- voice and tools ------------------------------------------------------------------------


class VoiceStartRequest(WireModel):
    session_id: UUID = Field(description="The id the kiosk will file the session record under.")
    member_id: UUID
    warm_model: ShortText | None = Field(
        default=None,
        description="The model of the warm Realtime connection the kiosk holds (opened with a "
        "standby secret). When it is the kiosk's model, no client secret is minted: the kiosk "
        "binds the member on that connection with the returned session (session.update).",
    )


class VoiceStartResponse(WireModel):
    client_secret: str | None = Field(
        description="Ephemeral Realtime key (ek_...), never the org key; null when the kiosk "
        "continues on its warm connection (`warm_model`)."
    )
    expires_at: datetime | None
    model: str
    realtime_url: str = Field(description="WebSocket URL to connect to with the client secret.")
    session: dict[str, Any] = Field(description="The GA `session.update` payload to send.")


class VoiceStandbyResponse(WireModel):
    """A client secret bound to no member, for the kiosk's warm Realtime connection."""

    client_secret: str = Field(description="Ephemeral Realtime key (ek_...), never the org key.")
    expires_at: datetime = Field(description="Connections must be opened before this.")
    model: str
    realtime_url: str
    session: dict[str, Any] = Field(
        description="The standby session the secret was minted with: the kiosk's voice and "
        "audio formats, no member, no tools, no turn detection."
    )


class ToolCallRequest(WireModel):
    session_id: UUID
    member_id: UUID
    call_id: ShortText
    arguments: ToolArguments = Field(default_factory=dict)


class ToolCallResponse(WireModel):
    ok: Flag
    output: dict[str, Any] | None = None
    error: str | None = Field(default=None, description="A sentence the assistant can say.")
    end_session: Flag = False
