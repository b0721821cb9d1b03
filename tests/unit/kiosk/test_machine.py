"""The kiosk state machine driven by recorded input sequences: no event loop, no sleeps."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.errors import ErrorCode
from contract.kiosk_api import (
    EndReason,
    EventKind,
    KioskConfig,
    MemberCard,
    MembershipStatus,
    Turn,
    VoiceStartResponse,
)
from contract.pricing import TokenUsage
from kiosk_agent.core.conversation import SessionFacts
from kiosk_agent.core.machine import (
    TRANSITIONS,
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
    KioskMachine,
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
from kiosk_agent.core.messages import Notice

BASE = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
ALICE = MemberCard(
    badge_id="04A23B1C",
    status=MembershipStatus.ACTIVE,
    member_id=UUID("11111111-1111-1111-1111-111111111111"),
    first_name="Alice",
    language="fr",
)
BOB = MemberCard(
    badge_id="04B0B0B0",
    status=MembershipStatus.ACTIVE,
    member_id=UUID("22222222-2222-2222-2222-222222222222"),
    first_name="Bob",
    language="en",
)
START = VoiceStartResponse(
    client_secret="ek_test",
    expires_at=BASE + timedelta(minutes=1),
    model="gpt-realtime-mini",
    realtime_url="ws://127.0.0.1:1/v1/realtime",
    session={"type": "realtime", "audio": {"output": {"voice": "marin"}}},
)


def at(seconds: float) -> Moment:
    return Moment(wall=BASE + timedelta(seconds=seconds), mono=1000.0 + seconds)


@dataclass
class Kiosk:
    """A machine with predictable ids and a log of every effect."""

    machine: KioskMachine = field(default_factory=lambda: KioskMachine(new_id=_ids()))
    effects: list[Effect] = field(default_factory=list)

    def __call__(self, event: Input) -> list[Effect]:
        out = self.machine.handle(event)
        self.effects.extend(out)
        return out

    @property
    def state(self) -> AgentState:
        return self.machine.state


def _ids() -> Callable[[], UUID]:
    counter = itertools.count(1)
    return lambda: UUID(int=next(counter))


def kinds(effects: list[Effect]) -> list[str]:
    return [type(e).__name__ for e in effects if not isinstance(e, StateChanged)]


def online_kiosk() -> Kiosk:
    kiosk = Kiosk()
    kiosk(AgentStarted(at(0), provisioned=True))
    kiosk(CloudReachable(at(0)))
    assert kiosk.state is AgentState.IDLE
    return kiosk


def in_session(kiosk: Kiosk, card: MemberCard = ALICE, t: float = 1) -> UUID:
    (lookup,) = kiosk(BadgeTapped(at(t), card.badge_id))[:1]
    assert isinstance(lookup, LookupMember)
    effects = kiosk(MemberChecked(at(t + 0.2), lookup.check_id, card, MemberSource.CLOUD))
    start = effects[0]
    assert isinstance(start, StartVoice)
    kiosk(VoiceStarted(at(t + 0.5), start.session_id, START))
    assert kiosk.state is AgentState.IN_SESSION
    return start.session_id


def test_a_member_talks_then_says_goodbye() -> None:
    kiosk = online_kiosk()
    effects = kiosk(BadgeTapped(at(1), ALICE.badge_id))
    assert kinds(effects) == ["LookupMember"]
    assert kiosk.state is AgentState.MEMBER_CHECK
    lookup = effects[0]
    assert isinstance(lookup, LookupMember)
    effects = kiosk(MemberChecked(at(1.2), lookup.check_id, ALICE, MemberSource.CLOUD))
    assert kinds(effects) == ["StartVoice"]
    start = effects[0]
    assert isinstance(start, StartVoice)
    effects = kiosk(VoiceStarted(at(1.5), start.session_id, START))
    assert kinds(effects) == ["StartConversation"]
    assert isinstance(effects[0], StartConversation)
    turns = (
        Turn(index=0, role="user", content="Bonjour JARVIS"),
        Turn(index=1, role="assistant", content="Bonjour Alice !"),
    )
    usage = TokenUsage(input_audio_tokens=40, output_audio_tokens=80)
    facts = SessionFacts(turns=turns, usage=usage, end_reason=EndReason.GOODBYE)
    effects = kiosk(ConversationEnded(at(61.5), start.session_id, facts))
    assert kinds(effects) == ["RecordSession"]
    record = effects[0].record
    assert record.id == start.session_id
    assert record.member_id == ALICE.member_id
    assert record.end_reason is EndReason.GOODBYE
    assert record.started_at == at(1.5).wall
    assert record.ended_at == at(61.5).wall
    assert record.turns == list(turns)
    assert record.usage == usage
    assert record.model == "gpt-realtime-mini"
    assert record.voice == "marin"
    assert record.language == "fr"
    assert kiosk.state is AgentState.IDLE


def test_a_second_tap_within_the_debounce_window_is_ignored() -> None:
    kiosk = online_kiosk()
    first = kiosk(BadgeTapped(at(1), ALICE.badge_id))
    check = first[0]
    assert isinstance(check, LookupMember)
    kiosk(
        MemberChecked(
            at(1.1),
            check.check_id,
            ALICE.model_copy(update={"status": MembershipStatus.EXPIRED}),
            MemberSource.CLOUD,
        )
    )
    assert kiosk.state is AgentState.IDLE
    assert kiosk(BadgeTapped(at(4), ALICE.badge_id)) == []  # 3 s later: a repeat
    assert kinds(kiosk(BadgeTapped(at(9.5), ALICE.badge_id))) == ["LookupMember"]  # 5.5 s


def test_a_held_badge_keeps_being_ignored() -> None:
    kiosk = online_kiosk()
    kiosk(BadgeTapped(at(1), ALICE.badge_id))
    for t in (3, 5, 7, 9):  # each read within 5 s of the previous one
        assert kiosk(BadgeTapped(at(t), ALICE.badge_id)) == []


@pytest.mark.parametrize(
    ("status", "notice", "kind", "expected_text"),
    [
        (
            MembershipStatus.EXPIRED,
            Notice.BADGE_EXPIRED,
            EventKind.BADGE_REFUSED,
            "a expiré le 01/11/2026",
        ),
        (
            MembershipStatus.SUSPENDED,
            Notice.BADGE_SUSPENDED,
            EventKind.BADGE_REFUSED,
            "est suspendu",
        ),
        (
            MembershipStatus.UNKNOWN,
            Notice.BADGE_UNKNOWN,
            EventKind.BADGE_UNKNOWN,
            "n'est pas reconnu",
        ),
    ],
)
def test_refused_badges_get_a_message_and_an_event(
    status: MembershipStatus, notice: Notice, kind: EventKind, expected_text: str
) -> None:
    kiosk = online_kiosk()
    (check,) = kiosk(BadgeTapped(at(1), ALICE.badge_id))[:1]
    assert isinstance(check, LookupMember)
    card = ALICE.model_copy(update={"status": status, "membership_expires_on": date(2026, 11, 1)})
    if status is MembershipStatus.UNKNOWN:
        card = MemberCard(badge_id=ALICE.badge_id, status=status)
    effects = kiosk(MemberChecked(at(1.2), check.check_id, card, MemberSource.CLOUD))
    assert kinds(effects) == ["Announce", "RecordEvent"]
    announce, record = effects[0], effects[1]
    assert isinstance(announce, Announce)
    assert isinstance(record, RecordEvent)
    assert announce.notice is notice
    assert expected_text in announce.text
    assert announce.spoken
    assert record.event.kind is kind
    assert record.event.badge_id == ALICE.badge_id
    assert record.event.occurred_at == at(1.2).wall
    assert record.event.detail["source"] == "cloud"
    assert kiosk.state is AgentState.IDLE


def test_english_members_are_answered_in_english() -> None:
    kiosk = online_kiosk()
    (check,) = kiosk(BadgeTapped(at(1), BOB.badge_id))[:1]
    assert isinstance(check, LookupMember)
    card = BOB.model_copy(update={"status": MembershipStatus.SUSPENDED})
    announce = kiosk(MemberChecked(at(1.2), check.check_id, card, MemberSource.CLOUD))[0]
    assert isinstance(announce, Announce)
    assert announce.text == "Hello Bob, your membership is suspended. Please see the front desk."


def test_offline_an_active_member_from_the_cache_is_told_jarvis_is_unreachable() -> None:
    kiosk = online_kiosk()
    kiosk(CloudUnreachable(at(0.5), "no route to host"))
    assert kiosk.state is AgentState.OFFLINE
    (check,) = kiosk(BadgeTapped(at(1), ALICE.badge_id))[:1]
    assert isinstance(check, LookupMember)
    effects = kiosk(MemberChecked(at(3), check.check_id, ALICE, MemberSource.CACHE))
    assert kinds(effects) == ["Announce", "RecordEvent"]
    assert effects[0].notice is Notice.OFFLINE
    event = effects[1].event
    assert event.kind is EventKind.SESSION_REFUSED
    assert event.member_id == ALICE.member_id
    assert event.detail == {"source": "cache", "reason": "offline"}
    assert kiosk.state is AgentState.OFFLINE
    assert not any(isinstance(e, StartVoice) for e in kiosk.effects)


def test_an_active_member_from_the_cache_starts_at_once_when_the_cloud_answers() -> None:
    # Cache first: no round trip before the voice start, which checks the member anyway.
    kiosk = online_kiosk()
    (check,) = kiosk(BadgeTapped(at(1), ALICE.badge_id))[:1]
    effects = kiosk(MemberChecked(at(1.001), check.check_id, ALICE, MemberSource.LOCAL))
    assert kinds(effects) == ["StartVoice"]
    offline = online_kiosk()
    offline(CloudUnreachable(at(0.5), "no route to host"))
    (check,) = offline(BadgeTapped(at(1), ALICE.badge_id))[:1]
    refused = offline(MemberChecked(at(1.001), check.check_id, ALICE, MemberSource.LOCAL))
    assert refused[0].notice is Notice.OFFLINE


def test_the_record_says_how_long_after_the_tap_the_greeting_was_heard() -> None:
    kiosk = online_kiosk()
    session_id = in_session(kiosk, t=1)
    facts = SessionFacts(greeting_played_at=at(1.43).mono, end_reason=EndReason.GOODBYE)
    [record] = [e for e in kiosk(ConversationEnded(at(30), session_id, facts)) if kinds([e])]
    assert isinstance(record, RecordSession)
    assert record.record.latency.greeting_ms == 430


def test_nobody_can_check_the_badge() -> None:
    kiosk = online_kiosk()
    (check,) = kiosk(BadgeTapped(at(1), ALICE.badge_id))[:1]
    effects = kiosk(MemberChecked(at(3), check.check_id, None, MemberSource.NONE))
    assert effects[0].notice is Notice.CANNOT_CHECK
    assert effects[1].event.detail["reason"] == "member_check_unavailable"


def test_another_members_badge_ends_the_session_politely_then_serves_them() -> None:
    kiosk = online_kiosk()
    alice_session = in_session(kiosk, ALICE, t=1)
    assert kiosk(BadgeTapped(at(20), ALICE.badge_id)) == []  # her own badge: nothing
    effects = kiosk(BadgeTapped(at(30), BOB.badge_id))
    assert kinds(effects) == ["EndConversation", "Announce"]
    end, handover = effects[0], effects[1]
    assert isinstance(end, EndConversation)
    assert isinstance(handover, Announce)
    assert end.reason is EndReason.NEW_BADGE
    assert handover.notice is Notice.HANDOVER
    assert "Alice" in handover.text
    assert not handover.spoken  # the conversation says its own goodbye
    assert kiosk.state is AgentState.CLOSING
    assert kiosk(BadgeTapped(at(31), BOB.badge_id)) == []  # Bob again, already waiting
    facts = SessionFacts(end_reason=EndReason.GOODBYE, turns=(Turn(index=0, role="user"),))
    effects = kiosk(ConversationEnded(at(32), alice_session, facts))
    assert kinds(effects) == ["RecordSession", "LookupMember"]
    record = effects[0].record
    assert record.end_reason is EndReason.NEW_BADGE  # what the kiosk asked wins
    lookup = effects[1]
    assert isinstance(lookup, LookupMember)
    assert lookup.badge_id == BOB.badge_id
    assert kiosk.state is AgentState.MEMBER_CHECK


def test_the_maximum_duration_ends_the_session() -> None:
    kiosk = online_kiosk()
    kiosk(ConfigApplied(at(0), KioskConfig(max_session_s=60)))
    session = in_session(kiosk, t=1)
    assert kiosk(Tick(at(60))) == []  # 58.5 s in
    effects = kiosk(Tick(at(62)))
    assert kinds(effects) == ["EndConversation"]
    assert effects[0].reason is EndReason.MAX_DURATION
    effects = kiosk(ConversationEnded(at(63), session, SessionFacts()))
    assert effects[0].record.end_reason is EndReason.MAX_DURATION


def test_shutdown_closes_the_session_and_records_it_before_stopping() -> None:
    kiosk = online_kiosk()
    session = in_session(kiosk, t=1)
    effects = kiosk(ShutdownRequested(at(10)))
    assert kinds(effects) == ["EndConversation"]
    assert effects[0].reason is EndReason.KIOSK_SHUTDOWN
    assert kiosk(BadgeTapped(at(11), BOB.badge_id)) == []  # nobody new while stopping
    effects = kiosk(ConversationEnded(at(12), session, SessionFacts()))
    assert kinds(effects) == ["RecordSession", "Stopped"]
    assert kiosk.state is AgentState.STOPPED
    assert kiosk(BadgeTapped(at(20), BOB.badge_id)) == []


def test_shutdown_at_rest_stops_at_once() -> None:
    kiosk = online_kiosk()
    assert kinds(kiosk(ShutdownRequested(at(1)))) == ["Stopped"]


@pytest.mark.parametrize(
    ("code", "status", "network", "notice"),
    [
        (ErrorCode.DAILY_BUDGET_EXHAUSTED, 403, False, Notice.BUDGET_REACHED),
        (ErrorCode.MEMBER_SESSION_LIMIT, 429, False, Notice.SESSION_LIMIT),
        (ErrorCode.MEMBER_SUSPENDED, 403, False, Notice.BADGE_SUSPENDED),
        (ErrorCode.OPENAI_UNAVAILABLE, 503, False, Notice.SESSION_FAILED),
        # Codes a newer cloud may send: handled by their status class, not their spelling.
        ("member_budget_exhausted", 403, False, Notice.SESSION_REFUSED),
        ("voice_region_down", 503, False, Notice.SESSION_FAILED),
        ("cloud_unreachable", None, True, Notice.OFFLINE),
    ],
)
def test_a_refused_voice_start_is_explained_and_recorded(
    code: str, status: int | None, network: bool, notice: Notice
) -> None:
    kiosk = online_kiosk()
    (check,) = kiosk(BadgeTapped(at(1), ALICE.badge_id))[:1]
    start = kiosk(MemberChecked(at(1.1), check.check_id, ALICE, MemberSource.CLOUD))[0]
    assert isinstance(start, StartVoice)
    failed = VoiceStartFailed(at(2), start.session_id, code, "refused", network, status)
    effects = kiosk(failed)
    assert kinds(effects) == ["Announce", "RecordEvent"]
    assert effects[0].notice is notice
    assert effects[1].event.kind is EventKind.SESSION_REFUSED
    assert effects[1].event.detail["reason"] == code
    assert kiosk.state is (AgentState.OFFLINE if network else AgentState.IDLE)


def test_a_superseded_member_check_is_ignored() -> None:
    kiosk = online_kiosk()
    first = kiosk(BadgeTapped(at(1), ALICE.badge_id))[0]
    second = kiosk(BadgeTapped(at(1.5), BOB.badge_id))[0]
    assert isinstance(first, LookupMember)
    assert isinstance(second, LookupMember)
    assert kiosk(MemberChecked(at(2), first.check_id, ALICE, MemberSource.CLOUD)) == []
    assert kiosk.state is AgentState.MEMBER_CHECK
    effects = kiosk(MemberChecked(at(2.1), second.check_id, BOB, MemberSource.CLOUD))
    assert kinds(effects) == ["StartVoice"]
    assert effects[0].member == BOB


def test_a_badge_while_the_session_starts_is_served_next() -> None:
    kiosk = online_kiosk()
    (check,) = kiosk(BadgeTapped(at(1), ALICE.badge_id))[:1]
    start = kiosk(MemberChecked(at(1.1), check.check_id, ALICE, MemberSource.CLOUD))[0]
    assert isinstance(start, StartVoice)
    assert kiosk(BadgeTapped(at(1.5), BOB.badge_id)) == []
    effects = kiosk(VoiceStarted(at(2), start.session_id, START))
    assert kinds(effects) == ["RecordSession", "LookupMember"]
    record = effects[0].record
    assert record.end_reason is EndReason.NEW_BADGE
    assert record.turns == []
    assert record.errors == ["ended (new_badge) before the conversation started"]
    assert effects[1].badge_id == BOB.badge_id


def test_a_conversation_that_fails_to_start_is_recorded_as_a_realtime_error() -> None:
    kiosk = online_kiosk()
    session = in_session(kiosk, t=1)
    facts = SessionFacts(end_reason=EndReason.REALTIME_ERROR, errors=("no voice installed",))
    effects = kiosk(ConversationEnded(at(2), session, facts))
    assert kinds(effects) == ["RecordSession", "Announce"]
    record = effects[0].record
    assert record.end_reason is EndReason.REALTIME_ERROR
    assert record.turns == []
    assert record.errors == ["no voice installed"]
    assert effects[1].notice is Notice.SESSION_FAILED


def test_a_conversation_that_ends_without_a_reason_is_a_realtime_error() -> None:
    kiosk = online_kiosk()
    session = in_session(kiosk, t=1)
    record = kiosk(ConversationEnded(at(2), session, SessionFacts()))[0].record
    assert record.end_reason is EndReason.REALTIME_ERROR
    assert record.errors == ["the conversation ended without saying why"]


def test_oversized_facts_are_trimmed_to_what_the_cloud_accepts() -> None:
    kiosk = online_kiosk()
    session = in_session(kiosk, t=1)
    turns = tuple(Turn(index=i, role="user", content="x") for i in range(2100))
    errors = tuple("e" * 5000 for _ in range(150))
    facts = SessionFacts(turns=turns, errors=errors, end_reason=EndReason.GOODBYE)
    record = kiosk(ConversationEnded(at(2), session, facts))[0].record
    assert len(record.turns) == 2000
    assert len(record.errors) == 100
    assert all(len(e) <= 4000 for e in record.errors)
    assert record.errors[-1] == "52 more errors"  # 150 + the note about dropped turns


def test_an_unprovisioned_kiosk_says_so_then_starts_serving_once_provisioned() -> None:
    kiosk = Kiosk()
    kiosk(AgentStarted(at(0), provisioned=False))
    assert kiosk.state is AgentState.UNPROVISIONED
    effects = kiosk(BadgeTapped(at(1), ALICE.badge_id))
    assert [e.notice for e in effects if isinstance(e, Announce)] == [Notice.NOT_SET_UP]
    kiosk(ProvisioningChanged(at(2), provisioned=True))
    assert kiosk.state is AgentState.OFFLINE  # not heard from the cloud yet
    kiosk(CloudReachable(at(3)))
    assert kiosk.state is AgentState.IDLE


def test_a_store_that_cannot_write_puts_the_kiosk_out_of_service() -> None:
    kiosk = online_kiosk()
    kiosk(StoreHealth(at(1), ok=False, reason="disk full"))
    assert kiosk.state is AgentState.OUT_OF_SERVICE
    effects = kiosk(BadgeTapped(at(2), ALICE.badge_id))
    assert [e.notice for e in effects if isinstance(e, Announce)] == [Notice.OUT_OF_SERVICE]
    assert not any(isinstance(e, LookupMember) for e in effects)
    kiosk(StoreHealth(at(3), ok=True))
    assert kiosk.state is AgentState.IDLE


def test_state_changes_are_reported() -> None:
    kiosk = online_kiosk()
    effects = kiosk(BadgeTapped(at(1), ALICE.badge_id))
    changes = [e for e in effects if isinstance(e, StateChanged)]
    assert changes == [StateChanged(AgentState.MEMBER_CHECK, "checking a badge")]
    assert kiosk.machine.since == at(1).wall


def test_the_table_lets_every_live_state_shut_down_and_the_stopped_one_do_nothing() -> None:
    for state in AgentState:
        if state in (AgentState.STOPPED, AgentState.STARTING):
            assert (ShutdownRequested, state) not in TRANSITIONS
        else:
            assert (ShutdownRequested, state) in TRANSITIONS
    assert not [key for key in TRANSITIONS if key[1] is AgentState.STOPPED]


# -- any sequence of inputs keeps the machine inside its table ------------------------------

BADGES = [ALICE.badge_id, BOB.badge_id, "0A0B0C0D"]
CARDS = [
    ALICE,
    BOB,
    ALICE.model_copy(update={"status": MembershipStatus.EXPIRED}),
    MemberCard(badge_id="0A0B0C0D", status=MembershipStatus.UNKNOWN),
    None,
]


@st.composite
def scripts(draw: st.DrawFn) -> list[tuple[str, int]]:
    steps = st.tuples(
        st.sampled_from(
            [
                "tap",
                "checked",
                "started",
                "failed",
                "ended",
                "tick",
                "online",
                "offline",
                "store_bad",
                "store_ok",
                "unprovision",
                "provision",
                "shutdown",
            ]
        ),
        st.integers(min_value=0, max_value=4),
    )
    return draw(st.lists(steps, max_size=40))


@settings(max_examples=300, deadline=None)
@given(scripts())
def test_random_sequences_never_leave_the_transition_table(script: list[tuple[str, int]]) -> None:
    kiosk = Kiosk()
    kiosk(AgentStarted(at(0), provisioned=True))
    checks: list[int] = [0]
    sessions: list[UUID] = [UUID(int=0)]
    t = 0.0
    for step, n in script:
        t += 1.5
        moment = at(t)
        event: Input
        if step == "tap":
            event = BadgeTapped(moment, BADGES[n % len(BADGES)])
        elif step == "checked":
            source = MemberSource.CLOUD if n % 2 else MemberSource.CACHE
            event = MemberChecked(moment, checks[-1], CARDS[n], source)
        elif step == "started":
            event = VoiceStarted(moment, sessions[-1], START)
        elif step == "failed":
            event = VoiceStartFailed(
                moment, sessions[-1], ErrorCode.DAILY_BUDGET_EXHAUSTED, "no", n % 2 == 0
            )
        elif step == "ended":
            event = ConversationEnded(moment, sessions[-1], SessionFacts())
        elif step == "tick":
            t += 100 * n
            event = Tick(at(t))
        elif step == "online":
            event = CloudReachable(moment)
        elif step == "offline":
            event = CloudUnreachable(moment, "down")
        elif step == "store_bad":
            event = StoreHealth(moment, ok=False)
        elif step == "store_ok":
            event = StoreHealth(moment, ok=True)
        elif step == "unprovision":
            event = ProvisioningChanged(moment, provisioned=False)
        elif step == "provision":
            event = ProvisioningChanged(moment, provisioned=True)
        else:
            event = ShutdownRequested(moment)
        for effect in kiosk(event):  # MachineBug would be raised here
            if isinstance(effect, LookupMember):
                checks.append(effect.check_id)
            if isinstance(effect, StartVoice):
                sessions.append(effect.session_id)
    recorded = [e for e in kiosk.effects if isinstance(e, RecordSession)]
    assert len({r.record.id for r in recorded}) == len(recorded)  # never recorded twice
    stopped = [e for e in kiosk.effects if isinstance(e, Stopped)]
    assert len(stopped) <= 1


def test_a_voice_refusal_is_said_with_the_clouds_own_sentence() -> None:
    kiosk = online_kiosk()
    (check,) = kiosk(BadgeTapped(at(1), BOB.badge_id))[:1]
    start = kiosk(MemberChecked(at(1.1), check.check_id, BOB, MemberSource.CLOUD))[0]
    said = "Sorry Bob, you have already talked with JARVIS 5 times this hour: back in 12 minutes."
    effects = kiosk(
        VoiceStartFailed(
            at(2), start.session_id, "member_session_limit", "429", say=said, say_language="en"
        )
    )
    announce = effects[0]
    assert isinstance(announce, Announce)
    assert (announce.notice, announce.text, announce.language) == (Notice.SESSION_LIMIT, said, "en")


def test_the_last_session_is_the_agents_evidence_about_the_microphone() -> None:
    from kiosk_agent.records import microphone_evidence

    kiosk = online_kiosk()
    session = in_session(kiosk, t=1)
    heard = SessionFacts(
        turns=(Turn(index=0, role="user", content="Bonjour"),), end_reason=EndReason.GOODBYE
    )
    record = kiosk(ConversationEnded(at(5), session, heard))[0].record
    assert microphone_evidence(record, None) is True
    session = in_session(kiosk, t=10)
    broken = SessionFacts(
        end_reason=EndReason.REALTIME_ERROR,
        errors=("the audio device is busy: another program holds the microphone",),
    )
    record = kiosk(ConversationEnded(at(11), session, broken))[0].record
    assert microphone_evidence(record, True) is False
    session = in_session(kiosk, t=20)
    silent = SessionFacts(end_reason=EndReason.IDLE_TIMEOUT)
    record = kiosk(ConversationEnded(at(41), session, silent))[0].record
    assert microphone_evidence(record, False) is False  # nothing new: keep what was known
