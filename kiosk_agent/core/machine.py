"""The kiosk's state machine, sans I/O: inputs in, effects out, never awaiting or sleeping.

The asyncio shell (``kiosk_agent.app``) feeds it what happened (a badge tapped, the cloud's
answer about a member, the conversation's end, a clock tick) and carries out the effects it
returns (look a member up, start a voice session, write the session record to the outbox,
say something to the member). Time comes in with every input (:class:`Moment`), so a
recorded sequence of inputs replays exactly, with no event loop.

The life of a badge::

    IDLE ──tap──▶ MEMBER_CHECK ──active, from the cloud──▶ STARTING_SESSION ──granted──▶
    IN_SESSION ──new badge / max duration / shutdown──▶ CLOSING ──ended──▶ IDLE
                └──conversation finished by itself (goodbye, idle, error)───────▶ IDLE

Repeats: the same badge read again within ``debounce_s`` of its previous read is the same tap
(a card resting on a reader that keeps typing it, an impatient second tap) and is ignored,
whatever the reader kind; each read restarts the window, so a card left on the reader stays
one tap. This is the kiosk's only debounce: readers hand over every read, because which tap
to act on is decided here, with the other rules about taps (the member in session, the
newcomer waiting), on the inputs' own clock.

Refusals (expired, suspended, unknown badge; the cloud unreachable; the cloud refusing a
session) go back to rest with a message for the member and an event for the outbox. The rest
state is UNPROVISIONED (no credential), OUT_OF_SERVICE (the store cannot keep records, so no
session may start), OFFLINE (the cloud does not answer) or IDLE, in that order of precedence.

:data:`TRANSITIONS` lists, for each state and input, the states the machine may move to; the
machine checks every move against it. An input not listed for the current state is ignored
(a late answer for a check that was superseded, a tick while idle).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from contract.kiosk_api import (
    EndReason,
    EventKind,
    KioskConfig,
    KioskEvent,
    MemberCard,
    MembershipStatus,
    SessionRecord,
    VoiceStartResponse,
)
from kiosk_agent.core.conversation import SessionFacts
from kiosk_agent.core.machine_io import (
    REST_STATES,
    AgentStarted,
    AgentState,
    Announce,
    BadgeTapped,
    CloudReachable,
    CloudUnreachable,
    ConfigApplied,
    ConversationEnded,
    Effect,
    EndConversation,
    Input,
    LookupMember,
    MemberChecked,
    MemberSource,
    Moment,
    ProvisioningChanged,
    RecordEvent,
    RecordSession,
    ShutdownRequested,
    StartConversation,
    StartVoice,
    StateChanged,
    Stopped,
    StoreHealth,
    Tick,
    VoiceStarted,
    VoiceStartFailed,
)
from kiosk_agent.core.messages import Notice, refusal_notice, render, supported_language
from kiosk_agent.core.session_record import build_session_record

__all__ = [
    "REST_STATES",
    "TRANSITIONS",
    "AgentStarted",
    "AgentState",
    "Announce",
    "BadgeTapped",
    "CloudReachable",
    "CloudUnreachable",
    "ConfigApplied",
    "ConversationEnded",
    "Effect",
    "EndConversation",
    "Input",
    "KioskMachine",
    "LookupMember",
    "MachineBug",
    "MachineSnapshot",
    "MemberChecked",
    "MemberSource",
    "Moment",
    "ProvisioningChanged",
    "RecordEvent",
    "RecordSession",
    "ShutdownRequested",
    "StartConversation",
    "StartVoice",
    "StateChanged",
    "Stopped",
    "StoreHealth",
    "Tick",
    "VoiceStartFailed",
    "VoiceStarted",
]

# -- transition table -----------------------------------------------------------------------

S = AgentState
_REST = REST_STATES
_ANY = frozenset(S) - {S.STOPPED}
_AFTER_SESSION = _REST | {S.MEMBER_CHECK, S.STOPPED}


def _rows() -> dict[tuple[type, AgentState], frozenset[AgentState]]:
    table: dict[tuple[type, AgentState], frozenset[AgentState]] = {}

    def allow(kind: type, sources: frozenset[AgentState], targets: frozenset[AgentState]) -> None:
        for source in sources:
            table[(kind, source)] = targets

    one = frozenset
    allow(AgentStarted, one({S.STARTING}), _REST)
    for kind in (ProvisioningChanged, CloudReachable, CloudUnreachable, StoreHealth):
        allow(kind, _REST, _REST)
        for busy in _ANY - _REST - {S.STARTING}:
            allow(kind, one({busy}), one({busy}))
    for state in _ANY:
        allow(ConfigApplied, one({state}), one({state}))
    allow(BadgeTapped, one({S.UNPROVISIONED}), one({S.UNPROVISIONED}))
    allow(BadgeTapped, one({S.OUT_OF_SERVICE}), one({S.OUT_OF_SERVICE}))
    allow(BadgeTapped, one({S.IDLE}), one({S.IDLE, S.MEMBER_CHECK}))
    allow(BadgeTapped, one({S.OFFLINE}), one({S.OFFLINE, S.MEMBER_CHECK}))
    allow(BadgeTapped, one({S.MEMBER_CHECK}), one({S.MEMBER_CHECK}))
    allow(BadgeTapped, one({S.STARTING_SESSION}), one({S.STARTING_SESSION}))
    allow(BadgeTapped, one({S.IN_SESSION}), one({S.IN_SESSION, S.CLOSING}))
    allow(BadgeTapped, one({S.CLOSING}), one({S.CLOSING}))
    allow(MemberChecked, one({S.MEMBER_CHECK}), _REST | {S.MEMBER_CHECK, S.STARTING_SESSION})
    allow(VoiceStarted, one({S.STARTING_SESSION}), _AFTER_SESSION | {S.IN_SESSION})
    allow(VoiceStartFailed, one({S.STARTING_SESSION}), _AFTER_SESSION | {S.STARTING_SESSION})
    allow(ConversationEnded, one({S.IN_SESSION}), _REST | {S.IN_SESSION})
    allow(ConversationEnded, one({S.CLOSING}), _AFTER_SESSION | {S.CLOSING})
    allow(Tick, one({S.IN_SESSION}), one({S.IN_SESSION, S.CLOSING}))
    allow(ShutdownRequested, _REST | {S.MEMBER_CHECK}, one({S.STOPPED}))
    allow(ShutdownRequested, one({S.STARTING_SESSION}), one({S.STARTING_SESSION}))
    allow(ShutdownRequested, one({S.IN_SESSION}), one({S.CLOSING}))
    allow(ShutdownRequested, one({S.CLOSING}), one({S.CLOSING}))
    return table


TRANSITIONS: Mapping[tuple[type, AgentState], frozenset[AgentState]] = _rows()
"""(input type, state) → the states the machine may be in after handling that input."""


class MachineBug(RuntimeError):
    """The machine moved somewhere its own transition table forbids: a defect, not input."""


# -- the machine ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Check:
    check_id: int
    badge_id: str
    tapped_at: Moment | None = None


@dataclass(slots=True)
class _Session:
    session_id: UUID
    member: MemberCard
    requested_at: Moment
    tapped_at: Moment | None = None
    started_at: Moment | None = None
    start: VoiceStartResponse | None = None
    closing_reason: EndReason | None = None


@dataclass(frozen=True, slots=True)
class MachineSnapshot:
    state: AgentState
    since: datetime | None
    online: bool
    provisioned: bool
    store_ok: bool
    session_id: UUID | None
    pending_badge: bool


@dataclass(slots=True)
class KioskMachine:
    """See the module docstring. ``handle`` is the only way in."""

    config: KioskConfig = field(default_factory=KioskConfig)
    debounce_s: float = 5.0
    repeats_ignored: int = 0
    """Taps dropped as repeats, for the reader's health report."""
    new_id: Callable[[], UUID] = uuid4
    state: AgentState = AgentState.STARTING
    since: datetime | None = None
    online: bool = False
    provisioned: bool = False
    store_ok: bool = True
    shutting_down: bool = False
    _check_seq: int = 0
    _check: _Check | None = None
    _session: _Session | None = None
    _pending_badge: str | None = None
    _pending_tapped: Moment | None = None
    _last_tap: tuple[str, float] | None = None

    def snapshot(self) -> MachineSnapshot:
        return MachineSnapshot(
            state=self.state,
            since=self.since,
            online=self.online,
            provisioned=self.provisioned,
            store_ok=self.store_ok,
            session_id=self._session.session_id if self._session else None,
            pending_badge=self._pending_badge is not None,
        )

    def handle(self, event: Input) -> list[Effect]:
        """The effects of ``event``, in the order the shell must carry them out."""
        targets = TRANSITIONS.get((type(event), self.state))
        if targets is None:
            return []
        before = self.state
        effects = self._dispatch(event)
        if self.state not in targets:
            raise MachineBug(
                f"{type(event).__name__} moved the kiosk from {before} to {self.state}; "
                f"the transition table allows {sorted(targets)}"
            )
        if self.state is not before:
            self.since = event.at.wall
            effects.append(StateChanged(self.state, self._detail()))
        return effects

    # -- dispatch ---------------------------------------------------------------------------

    def _dispatch(self, event: Input) -> list[Effect]:
        match event:
            case AgentStarted():
                self.provisioned = event.provisioned
                self.store_ok = event.store_ok
                self.state = self._rest_state()
                return []
            case ProvisioningChanged():
                self.provisioned = event.provisioned
                return self._resettle()
            case CloudReachable():
                self.online = True
                return self._resettle()
            case CloudUnreachable():
                self.online = False
                return self._resettle()
            case StoreHealth():
                self.store_ok = event.ok
                return self._resettle()
            case ConfigApplied():
                self.config = event.config
                return []
            case BadgeTapped():
                return self._on_badge(event)
            case MemberChecked():
                return self._on_member_checked(event)
            case VoiceStarted():
                return self._on_voice_started(event)
            case VoiceStartFailed():
                return self._on_voice_start_failed(event)
            case ConversationEnded():
                return self._on_conversation_ended(event)
            case Tick():
                return self._on_tick(event)
            case ShutdownRequested():
                return self._on_shutdown(event)

    # -- badges -----------------------------------------------------------------------------

    def _is_repeat(self, event: BadgeTapped) -> bool:
        last = self._last_tap
        self._last_tap = (event.badge_id, event.at.mono)
        repeat = (
            last is not None
            and last[0] == event.badge_id
            and event.at.mono - last[1] < self.debounce_s
        )
        self.repeats_ignored += repeat
        return repeat

    def _on_badge(self, event: BadgeTapped) -> list[Effect]:
        if self._is_repeat(event):
            return []
        badge = event.badge_id
        state = self.state
        if state is S.UNPROVISIONED:
            return [self._announce(Notice.NOT_SET_UP, None)]
        if state is S.OUT_OF_SERVICE:
            return [self._announce(Notice.OUT_OF_SERVICE, None)]
        if state in (S.IDLE, S.OFFLINE):
            return self._begin_check(badge, event.at)
        if state is S.MEMBER_CHECK:
            assert self._check is not None
            return [] if badge == self._check.badge_id else self._begin_check(badge, event.at)
        assert self._session is not None
        if badge in (self._session.member.badge_id, self._pending_badge):
            return []  # the member in session, or the one already waiting
        self._pending_badge, self._pending_tapped = badge, event.at
        if state is S.IN_SESSION:
            return [
                *self._close(EndReason.NEW_BADGE),
                self._announce(Notice.HANDOVER, self._session.member, spoken=False),
            ]
        return []  # STARTING_SESSION, CLOSING: the newcomer is served next

    def _begin_check(self, badge: str, tapped_at: Moment | None = None) -> list[Effect]:
        self._check_seq += 1
        self._check = _Check(self._check_seq, badge, tapped_at)
        self.state = S.MEMBER_CHECK
        return [LookupMember(self._check_seq, badge)]

    def _on_member_checked(self, event: MemberChecked) -> list[Effect]:
        check = self._check
        if check is None or event.check_id != check.check_id:
            return []  # superseded by a newer tap
        self._check = None
        card = event.card
        badge = check.badge_id
        detail: dict[str, Any] = {"source": event.source.value}
        if card is None or (card.status is MembershipStatus.ACTIVE and card.member_id is None):
            detail["reason"] = "member_check_unavailable"
            return self._refuse(
                event, Notice.CANNOT_CHECK, EventKind.SESSION_REFUSED, badge, card, detail
            )
        if card.status is MembershipStatus.ACTIVE:
            vouched = event.source is MemberSource.CLOUD or (
                event.source is MemberSource.LOCAL and self.online
            )
            if not vouched:
                detail["reason"] = "offline"
                return self._refuse(
                    event, Notice.OFFLINE, EventKind.SESSION_REFUSED, badge, card, detail
                )
            self._session = _Session(self.new_id(), card, event.at, check.tapped_at)
            self.state = S.STARTING_SESSION
            return [StartVoice(self._session.session_id, card)]
        detail["status"] = card.status.value
        if card.status is MembershipStatus.EXPIRED:
            return self._refuse(
                event, Notice.BADGE_EXPIRED, EventKind.BADGE_REFUSED, badge, card, detail
            )
        if card.status is MembershipStatus.SUSPENDED:
            return self._refuse(
                event, Notice.BADGE_SUSPENDED, EventKind.BADGE_REFUSED, badge, card, detail
            )
        return self._refuse(
            event, Notice.BADGE_UNKNOWN, EventKind.BADGE_UNKNOWN, badge, card, detail
        )

    def _refuse(
        self,
        event: MemberChecked,
        notice: Notice,
        kind: EventKind,
        badge: str,
        card: MemberCard | None,
        detail: dict[str, Any],
    ) -> list[Effect]:
        effects: list[Effect] = [
            self._announce(notice, card),
            RecordEvent(self._event(kind, event.at, badge, card, detail)),
        ]
        return effects + self._settle()

    # -- sessions ---------------------------------------------------------------------------

    def _current(self, session_id: UUID) -> _Session | None:
        session = self._session
        return session if session is not None and session.session_id == session_id else None

    def _on_voice_started(self, event: VoiceStarted) -> list[Effect]:
        session = self._current(event.session_id)
        if session is None:
            return []
        session.start = event.start
        session.started_at = event.at
        if self._pending_badge is not None or self.shutting_down:
            reason = EndReason.NEW_BADGE if self._pending_badge else EndReason.KIOSK_SHUTDOWN
            note = f"ended ({reason.value}) before the conversation started"
            record = self._record(session, SessionFacts(errors=(note,)), reason, event.at)
            return [RecordSession(record), *self._after_session()]
        self.state = S.IN_SESSION
        return [StartConversation(session.session_id, session.member, event.start)]

    def _on_voice_start_failed(self, event: VoiceStartFailed) -> list[Effect]:
        session = self._current(event.session_id)
        if session is None:
            return []
        if event.network:
            self.online = False
        effects: list[Effect] = []
        if self._pending_badge is None and not self.shutting_down:
            announce = self._announce(_refusal_notice(event), session.member)
            if event.say:
                language = event.say_language or announce.language
                announce = Announce(announce.notice, event.say[:500], language)
            effects.append(announce)
        detail = {"reason": event.code, "message": event.message[:500], "source": "cloud"}
        member = session.member
        refused = self._event(EventKind.SESSION_REFUSED, event.at, member.badge_id, member, detail)
        effects.append(RecordEvent(refused))
        return effects + self._after_session()

    def _on_tick(self, event: Tick) -> list[Effect]:
        session = self._session
        assert session is not None
        assert session.started_at is not None
        if event.at.mono - session.started_at.mono >= self.config.max_session_s:
            return self._close(EndReason.MAX_DURATION)
        return []

    def _close(self, reason: EndReason) -> list[Effect]:
        assert self._session is not None
        self._session.closing_reason = reason
        self.state = S.CLOSING
        return [EndConversation(self._session.session_id, reason)]

    def _on_conversation_ended(self, event: ConversationEnded) -> list[Effect]:
        session = self._current(event.session_id)
        if session is None:
            return []
        facts = event.facts
        reason = session.closing_reason or facts.end_reason
        if reason is None:
            reason = EndReason.REALTIME_ERROR
            facts = replace(
                facts, errors=(*facts.errors, "the conversation ended without saying why")
            )
        effects: list[Effect] = [RecordSession(self._record(session, facts, reason, event.at))]
        failed = reason is EndReason.REALTIME_ERROR and not facts.turns
        if failed and self._pending_badge is None and not self.shutting_down:
            effects.append(self._announce(Notice.SESSION_FAILED, session.member))
        return effects + self._after_session()

    def _after_session(self) -> list[Effect]:
        self._session = None
        pending, self._pending_badge = self._pending_badge, None
        if self.shutting_down:
            self.state = S.STOPPED
            return [Stopped()]
        if pending is not None:
            return self._begin_check(pending, self._pending_tapped)
        return self._settle()

    def _on_shutdown(self, event: ShutdownRequested) -> list[Effect]:
        self.shutting_down = True
        self._pending_badge = None
        if self.state in _REST or self.state is S.MEMBER_CHECK:
            self._check = None
            self.state = S.STOPPED
            return [Stopped()]
        if self.state is S.IN_SESSION:
            return self._close(EndReason.KIOSK_SHUTDOWN)
        return []  # STARTING_SESSION waits for the cloud's answer, CLOSING for the end

    # -- helpers ----------------------------------------------------------------------------

    def _rest_state(self) -> AgentState:
        if not self.provisioned:
            return S.UNPROVISIONED
        if not self.store_ok:
            return S.OUT_OF_SERVICE
        return S.IDLE if self.online else S.OFFLINE

    def _settle(self) -> list[Effect]:
        if self.shutting_down:
            self.state = S.STOPPED
            return [Stopped()]
        self.state = self._rest_state()
        return []

    def _resettle(self) -> list[Effect]:
        if self.state in _REST:
            self.state = self._rest_state()
        return []

    def _language(self, card: MemberCard | None) -> str:
        return supported_language(card.language if card else None, self.config.language)

    def _announce(self, notice: Notice, card: MemberCard | None, spoken: bool = True) -> Announce:
        language = self._language(card)
        text = render(
            notice,
            language,
            first_name=card.first_name if card else None,
            expired_on=card.membership_expires_on if card else None,
        )
        return Announce(notice, text, language, spoken)

    def _event(
        self,
        kind: EventKind,
        at: Moment,
        badge: str,
        card: MemberCard | None,
        detail: dict[str, Any],
    ) -> KioskEvent:
        return KioskEvent(
            id=self.new_id(),
            kind=kind,
            occurred_at=at.wall,
            badge_id=badge,
            member_id=card.member_id if card else None,
            detail=detail,
        )

    def _record(
        self, session: _Session, facts: SessionFacts, reason: EndReason, ended: Moment
    ) -> SessionRecord:
        started = session.started_at or session.requested_at
        if facts.greeting_played_at is not None and session.tapped_at is not None:
            waited = round((facts.greeting_played_at - session.tapped_at.mono) * 1000)
            latency = facts.latency.model_copy(update={"greeting_ms": max(0, waited)})
            facts = replace(facts, latency=latency)
        return build_session_record(
            session_id=session.session_id,
            member=session.member,
            start=session.start,
            config=self.config,
            facts=facts,
            reason=reason,
            started_at=started.wall,
            ended_at=ended.wall,
        )

    def _detail(self) -> str:
        state = self.state
        if state is S.UNPROVISIONED:
            return "not provisioned: run `jarvis-kiosk provision`"
        if state is S.OUT_OF_SERVICE:
            return "the local store cannot keep records: sessions refused (see the log)"
        if state is S.OFFLINE:
            return "the cloud does not answer: badges checked against the local cache"
        if state is S.IDLE:
            return "waiting for a badge"
        if state is S.MEMBER_CHECK:
            return "checking a badge"
        if self._session is not None:
            return f"{state.value.replace('_', ' ')}: session {str(self._session.session_id)[:8]}"
        return state.value.replace("_", " ")


def _refusal_notice(event: VoiceStartFailed) -> Notice:
    return Notice.OFFLINE if event.network else refusal_notice(event.code, event.status)
