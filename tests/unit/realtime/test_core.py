"""The kiosk's Realtime session core, driven by GA event sequences (no event loop, no socket)."""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter

from contract.kiosk_api import (
    EndReason,
    KioskConfig,
    MemberCard,
    MembershipStatus,
    ToolCallResponse,
)
from contract.pricing import session_cost
from kiosk_agent.core.realtime import (
    Action,
    Caption,
    FinishAudio,
    FlushPlayback,
    Phase,
    PlayAudio,
    RealtimeSession,
    Reconnect,
    RunTool,
    SendEvent,
    SessionEnded,
    SessionLimits,
)
from kiosk_agent.core.session_record import build_session_record
from tests.unit.realtime.server_events import Server, pcm, usage

T0 = 1000.0
STARTED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SESSION: dict[str, Any] = {
    "type": "realtime",
    "instructions": "Tu es JARVIS.",
    "audio": {"input": {"turn_detection": {"type": "server_vad"}}},
}


def new_core(session: dict[str, Any] | None = None, **limits: Any) -> RealtimeSession:
    return RealtimeSession(
        session=session or SESSION,
        model="gpt-realtime-mini",
        now=T0,
        started_at=STARTED,
        limits=SessionLimits(**limits),
        rng=random.Random(7),
    )


def feed(core: RealtimeSession, events: list[dict[str, Any]], now: float = T0) -> list[Action]:
    actions: list[Action] = []
    for event in events:
        actions += core.receive(json.dumps(event), now)
    return actions


def sent(actions: list[Action], kind: str | None = None) -> list[dict[str, Any]]:
    return [
        json.loads(a.data)
        for a in actions
        if isinstance(a, SendEvent) and (kind is None or a.type == kind)
    ]


def kinds(actions: list[Action]) -> list[str]:
    return [event["type"] for event in sent(actions)]


def active(server: Server, **limits: Any) -> RealtimeSession:
    core = new_core(greet_first=False, **limits)
    core.connected(T0)
    feed(core, [server.session_created(), server.session_updated()])
    assert core.phase is Phase.ACTIVE
    return core


def user_turn(
    server: Server, item: str, text: str, start_ms: int = 0, end_ms: int = 1500
) -> list[dict[str, Any]]:
    return [
        server.speech_started(item, start_ms),
        server.speech_stopped(item, end_ms),
        server.committed(item),
        server.transcription(item, text),
    ]


def test_server_events_match_the_sdk() -> None:
    """The sequences below are real GA shapes: the openai SDK's own models accept them."""
    server = Server()
    events = [
        server.session_created(),
        server.session_updated(),
        *user_turn(server, "u1", "Salut"),
        *server.spoken_answer("r1", "a1", "Bonjour", 300),
        server.arguments_done("r1", "f1", "call_1", "get_schedule", "{}"),
        server.failed("r2", "insufficient_quota"),
        server.truncated("a1", 100),
        server.rate_limits(),
        server.error("invalid_value"),
    ]
    adapter: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)
    for event in events:
        parsed = adapter.validate_python(event)
        assert parsed.type == event["type"]


def test_connecting_sends_the_session_config_and_asks_for_the_greeting_behind_it() -> None:
    # The server applies client events in order: the greeting need not wait a round trip
    # for `session.updated`.
    server = Server()
    core = new_core()
    first = core.connected(T0)
    assert kinds(first) == ["session.update", "response.create"]
    [update] = sent(first, "session.update")
    assert update["session"] == SESSION
    assert core.phase is Phase.CONFIGURING
    assert feed(core, [server.session_created()]) == []
    assert feed(core, [server.session_updated()]) == []  # greeted once
    assert core.phase is Phase.ACTIVE


def test_a_whole_session_update_event_is_accepted_as_the_config() -> None:
    core = new_core(session={"type": "session.update", "session": SESSION})
    [update] = sent(core.connected(T0), "session.update")
    assert update["session"] == SESSION


def test_microphone_frames_are_sent_only_while_connected() -> None:
    server = Server()
    core = new_core(greet_first=False)
    frame = pcm(20)
    assert core.microphone(frame, T0) == []
    assert core.facts.dropped_audio_ms == 20
    core.connected(T0)
    [append] = sent(core.microphone(frame, T0))
    assert append == {
        "type": "input_audio_buffer.append",
        "audio": base64.b64encode(frame).decode(),
    }
    feed(core, [server.session_updated()])
    core.end(EndReason.NEW_BADGE, T0 + 1)
    assert core.microphone(frame, T0 + 1) == []


def test_an_answer_is_played_and_the_turns_are_recorded() -> None:
    server = Server()
    core = active(server)
    actions = feed(core, user_turn(server, "u1", "Quels sont mes cours ?", 200, 1700), T0 + 1)
    assert actions == [Caption("user", "Quels sont mes cours ?", "u1")]
    actions = feed(core, server.spoken_answer("r1", "a1", "Yoga mardi.", 1000), T0 + 2)
    played = [a for a in actions if isinstance(a, PlayAudio)]
    assert sum(len(a.pcm) for a in played) == 1000 * 48
    assert {a.item_id for a in played} == {"a1"}
    assert FinishAudio("a1") in actions
    assert Caption("assistant", "Yoga mardi.", "a1") in actions
    turns = core.snapshot().turns
    assert [(t.role, t.content, t.audio_ms) for t in turns] == [
        ("user", "Quels sont mes cours ?", 1500),
        ("assistant", "Yoga mardi.", 1000),
    ]
    assert turns[0].started_at == STARTED + timedelta(seconds=1)


@pytest.mark.parametrize(
    ("played_ms", "audio_done", "truncate_at"),
    [
        (700, True, 700),  # cut where the member stopped hearing
        (2600, False, 2000),  # never past what was received (the server refuses it)
        (0, True, None),  # nothing heard: truncating at 0 is refused, so nothing is sent
        (2000, True, None),  # heard it all: nothing to cut
    ],
)
def test_barge_in_flushes_at_once_then_truncates_at_what_was_heard(
    played_ms: int, audio_done: bool, truncate_at: int | None
) -> None:
    server = Server()
    core = active(server)
    feed(core, [server.response_created("r1"), server.message_added("r1", "a1")])
    feed(core, [server.audio_delta("r1", "a1", 1000), server.audio_delta("r1", "a1", 1000)])
    if audio_done:
        feed(core, [server.audio_done("r1", "a1")])
    assert feed(core, [server.speech_started("u2", 3000)], T0 + 1) == [FlushPlayback("a1")]
    answer = core.playback_flushed("a1", played_ms, T0 + 1.01)
    if truncate_at is None:
        assert answer == []
        assert core.facts.truncations == []
    else:
        assert sent(answer) == [
            {
                "type": "conversation.item.truncate",
                "item_id": "a1",
                "content_index": 0,
                "audio_end_ms": truncate_at,
            }
        ]
        assert core.facts.truncations == [("a1", truncate_at)]
        assistant = next(t for t in core.snapshot().turns if t.item_id == "a1")
        assert assistant.audio_ms == truncate_at


def test_audio_of_an_interrupted_item_that_arrives_late_is_not_played() -> None:
    server = Server()
    core = active(server)
    feed(core, [server.response_created("r1"), server.audio_delta("r1", "a1", 500)])
    feed(core, [server.speech_started("u2")])
    core.playback_flushed("a1", 200, T0)
    late = feed(
        core,
        [
            server.audio_delta("r1", "a1", 500),
            server.audio_done("r1", "a1"),
            server.response_done("r1", "cancelled"),
        ],
    )
    assert not [a for a in late if isinstance(a, PlayAudio | FinishAudio)]


def test_no_flush_when_nothing_is_playing_or_the_session_keeps_talking() -> None:
    server = Server()
    core = active(server)
    feed(core, server.spoken_answer("r1", "a1", "Bonjour", 500))
    core.tick(T0 + 1, playing=False)  # the answer has been played out
    assert feed(core, [server.speech_started("u1")], T0 + 1) == []

    keeps_talking = new_core(
        session={
            "type": "realtime",
            "audio": {
                "input": {"turn_detection": {"type": "server_vad", "interrupt_response": False}}
            },
        },
        greet_first=False,
    )
    keeps_talking.connected(T0)
    feed(
        keeps_talking,
        [
            server.session_updated(),
            server.response_created("r2"),
            server.audio_delta("r2", "a2", 500),
        ],
    )
    assert feed(keeps_talking, [server.speech_started("u2")]) == []


def test_a_tool_round_trip_sends_the_output_then_asks_for_the_answer() -> None:
    server = Server()
    core = active(server)
    feed(core, user_turn(server, "u1", "Mes cours ?"))
    actions = feed(
        core,
        [
            server.response_created("r1"),
            server.arguments_done(
                "r1", "f1", "call_1", "get_member_schedule", '{"period": "week"}'
            ),
        ],
        T0 + 2,
    )
    assert actions == [RunTool("call_1", "get_member_schedule", {"period": "week"})]
    assert feed(core, [server.response_done("r1")], T0 + 2.1) == []  # the tool is still running
    result = ToolCallResponse(ok=True, output={"classes": ["yoga"]})
    answer = core.tool_finished("call_1", result, T0 + 2.4)
    assert sent(answer) == [
        {
            "type": "conversation.item.create",
            "item": {
                "type": "function_call_output",
                "call_id": "call_1",
                "output": '{"classes": ["yoga"]}',
            },
        },
        {"type": "response.create"},
    ]
    [record] = core.facts.tool_calls
    assert (record.name, record.arguments, record.ok, record.duration_ms) == (
        "get_member_schedule",
        {"period": "week"},
        True,
        400,
    )
    tool_turn = core.snapshot().turns[-1]
    assert tool_turn.role == "tool"
    assert tool_turn.content == 'get_member_schedule({"period": "week"}) → ok'


def test_a_tool_that_answers_before_its_response_is_done_waits_for_it() -> None:
    server = Server()
    core = active(server)
    feed(core, server.calls("r1", ("call_1", "open_hours", "{}"), done=None))
    early = core.tool_finished("call_1", ToolCallResponse(ok=True, output={"h": 22}), T0)
    assert kinds(early) == ["conversation.item.create"]
    assert kinds(feed(core, [server.response_done("r1")])) == ["response.create"]


def test_two_calls_in_one_response_get_one_continuation() -> None:
    server = Server()
    core = active(server)
    feed(core, server.calls("r1", ("call_1", "a", "{}"), ("call_2", "b", "{}")))
    first = core.tool_finished("call_2", ToolCallResponse(ok=True), T0)
    second = core.tool_finished("call_1", ToolCallResponse(ok=True), T0)
    assert kinds(first) == ["conversation.item.create"]
    assert kinds(second) == ["conversation.item.create", "response.create"]
    assert core.tool_finished("call_1", ToolCallResponse(ok=True), T0) == []  # once


def test_a_failing_tool_gives_the_model_an_error_to_talk_about() -> None:
    server = Server()
    core = active(server)
    feed(core, server.calls("r1", ("call_1", "book_class", "{}")))
    actions = core.tool_finished("call_1", ToolCallResponse(ok=False, error="class is full"), T0)
    output = sent(actions, "conversation.item.create")[0]["item"]["output"]
    assert json.loads(output) == {"error": "class is full"}
    assert core.facts.tool_calls[0].ok is False
    assert core.facts.tool_calls[0].error == "class is full"


def test_arguments_that_are_not_a_json_object_are_refused_without_running_the_tool() -> None:
    server = Server()
    core = active(server)
    actions = feed(core, server.calls("r1", ("call_1", "book_class", "{not json"), done=None))
    assert not [a for a in actions if isinstance(a, RunTool)]
    output = json.loads(sent(actions, "conversation.item.create")[0]["item"]["output"])
    assert "invalid arguments" in output["error"]
    assert core.facts.tool_calls[0].ok is False


def test_tools_of_a_cancelled_response_answer_but_ask_for_nothing_more() -> None:
    server = Server()
    core = active(server)
    feed(core, server.calls("r1", ("call_1", "a", "{}"), done="cancelled"))
    actions = core.tool_finished("call_1", ToolCallResponse(ok=True), T0)
    assert kinds(actions) == ["conversation.item.create"]


def test_a_continuation_waits_for_the_response_in_progress() -> None:
    server = Server()
    core = active(server)
    feed(core, [*server.calls("r1", ("call_1", "a", "{}")), server.response_created("r2")])
    actions = core.tool_finished("call_1", ToolCallResponse(ok=True), T0)
    assert kinds(actions) == ["conversation.item.create"]
    assert kinds(feed(core, [server.response_done("r2")])) == ["response.create"]


def test_usage_is_summed_by_kind_over_every_response_cancelled_ones_included() -> None:
    server = Server()
    core = active(server)
    feed(
        core,
        [
            server.response_created("r1"),
            server.response_done(
                "r1", used=usage(text_in=100, audio_in=40, cached=64, text_out=10, audio_out=60)
            ),
            server.response_created("r2"),
            server.response_done(
                "r2", "cancelled", used=usage(text_in=120, audio_in=80, text_out=3, audio_out=12)
            ),
        ],
    )
    u = core.facts.usage
    assert (
        u.input_text_tokens,
        u.input_audio_tokens,
        u.input_cached_tokens,
        u.output_text_tokens,
        u.output_audio_tokens,
    ) == (220, 120, 64, 13, 72)
    assert (core.facts.responses, core.facts.cancelled_responses) == (2, 1)
    assert core.facts.cost_usd == session_cost("gpt-realtime-mini", u)
    assert core.facts.cost_usd > 0


def test_transcription_tokens_are_counted() -> None:
    server = Server()
    core = active(server)
    feed(core, user_turn(server, "u1", "Bonjour") + user_turn(server, "u2", "Merci"))
    assert core.facts.transcription_tokens == 24


def test_unknown_events_are_ignored_and_counted() -> None:
    server = Server()
    core = active(server)
    actions = feed(
        core,
        [
            server.event("response.mcp_call.in_progress", item_id="x"),
            server.event("output_audio_buffer.started", response_id="r"),
            server.event("output_audio_buffer.started", response_id="r"),
        ],
    )
    assert actions == []
    assert core.facts.ignored_events["output_audio_buffer.started"] == 2
    assert core.facts.errors == []
    assert core.phase is Phase.ACTIVE


def test_malformed_events_are_reported_not_raised() -> None:
    server = Server()
    core = active(server)
    bad_audio = server.audio_delta("r1", "a1", 20)
    bad_audio["delta"] = "***not base64***"
    assert core.receive("{this is not json", T0) == []
    assert core.receive(json.dumps([1, 2]), T0) == []
    assert feed(core, [bad_audio, server.event("response.done")]) == []
    assert len(core.facts.errors) == 4
    assert all("malformed server event" in e for e in core.facts.errors)
    assert core.phase is Phase.ACTIVE


def test_races_with_the_server_are_not_errors() -> None:
    server = Server()
    core = active(server)
    feed(
        core,
        [
            server.error("response_cancel_not_active"),
            server.error("conversation_already_has_active_response"),
        ],
    )
    assert core.facts.errors == []
    assert core.facts.benign_errors == 2
    assert core.phase is Phase.ACTIVE


def test_other_errors_are_recorded_and_the_session_goes_on() -> None:
    server = Server()
    core = active(server)
    assert (
        feed(
            core,
            [server.error("invalid_value", "Audio content of 10ms is already shorter than 20ms")],
        )
        == []
    )
    assert core.facts.errors == [
        "invalid_value: Audio content of 10ms is already shorter than 20ms"
    ]
    assert core.phase is Phase.ACTIVE


@pytest.mark.parametrize(
    "code",
    ["invalid_api_key", "insufficient_quota", "account_deactivated", "billing_hard_limit_reached"],
)
def test_fatal_errors_end_the_session_and_are_never_retried(code: str) -> None:
    server = Server()
    core = active(server)
    actions = feed(core, [server.error(code, "Incorrect API key provided: ek_12345abcdef")])
    assert actions == [SessionEnded(EndReason.REALTIME_ERROR, code)]
    assert core.connection_lost(T0 + 1, 1000, "") == []
    assert "ek_12345abcdef" not in " ".join(core.facts.errors)


def test_a_failed_response_for_lack_of_quota_is_fatal() -> None:
    server = Server()
    core = active(server)
    actions = feed(core, [server.response_created("r1"), server.failed("r1", "insufficient_quota")])
    assert actions == [SessionEnded(EndReason.REALTIME_ERROR, "insufficient_quota")]
    assert "insufficient_quota" in core.facts.errors[0]


def test_a_refused_session_config_is_fatal() -> None:
    server = Server()
    core = new_core()
    [update] = sent(core.connected(T0), "session.update")
    actions = feed(
        core,
        [
            server.error(
                "unknown_parameter", "Unknown parameter: 'session.x'.", event_id=update["event_id"]
            )
        ],
    )
    assert actions == [SessionEnded(EndReason.REALTIME_ERROR, "unknown_parameter")]


def test_a_lost_connection_is_retried_with_jittered_backoff_then_given_up() -> None:
    core = new_core(max_reconnects=3, backoff_initial_s=1.0, backoff_max_s=3.0)
    core.connected(T0)
    delays = []
    for attempt in range(1, 4):
        [action] = core.connection_lost(T0 + attempt, 1011, "keepalive ping timeout")
        assert isinstance(action, Reconnect)
        assert action.attempt == attempt
        delays.append(action.delay_s)
        core.connected(T0 + attempt)
    base = [1.0, 2.0, 3.0]
    assert all(b / 2 <= d <= b for d, b in zip(delays, base, strict=True))
    assert core.connection_lost(T0 + 5, 1011, "") == [
        SessionEnded(EndReason.NETWORK_ERROR, "connection closed (1011: )")
    ]
    assert core.facts.reconnects == 3


def test_a_configured_connection_resets_the_retry_budget() -> None:
    server = Server()
    core = new_core(max_reconnects=1, greet_first=False)
    core.connected(T0)
    assert isinstance(core.connection_lost(T0, 1006, "")[0], Reconnect)
    core.connected(T0 + 1)
    feed(core, [server.session_updated()])
    assert isinstance(core.connection_lost(T0 + 2, 1006, "")[0], Reconnect)


def test_a_refused_key_is_never_retried() -> None:
    core = new_core()
    core.connected(T0)
    closed = core.connection_lost(T0, 3000, "invalid_request_error.invalid_api_key")
    assert closed == [SessionEnded(EndReason.REALTIME_ERROR, "invalid_api_key")]
    refused = new_core()
    assert refused.connect_failed(T0, 401, "HTTP 401") == [
        SessionEnded(EndReason.REALTIME_ERROR, "refused with HTTP 401")
    ]
    flaky = new_core()
    assert isinstance(flaky.connect_failed(T0, None, "connection refused")[0], Reconnect)


def test_after_a_reconnect_the_conversation_is_replayed_as_text_without_a_new_greeting() -> None:
    server = Server()
    core = new_core()
    core.connected(T0)
    feed(core, [server.session_updated()])
    feed(core, server.spoken_answer("r0", "a0", "Bonjour Julie !", 400))
    feed(core, user_turn(server, "u1", "Mes cours ?"))
    feed(core, server.spoken_answer("r1", "a1", "Yoga mardi.", 400))
    core.connection_lost(T0 + 5, 1006, "")
    replay = core.connected(T0 + 6)
    assert kinds(replay) == ["session.update"] + 3 * ["conversation.item.create"]
    items = [e["item"] for e in sent(replay, "conversation.item.create")]
    assert items[1] == {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "Mes cours ?"}],
    }
    assert items[2]["content"] == [{"type": "output_text", "text": "Yoga mardi."}]
    assert feed(core, [server.session_updated()]) == []  # no second greeting


def test_a_question_left_unanswered_by_a_lost_connection_is_asked_again_once() -> None:
    # Defect 1: a server error and a close right after the member's question; the kiosk
    # replayed the conversation and never asked for the answer.
    server = Server()
    core = active(server)
    feed(core, user_turn(server, "u1", "La salle ferme à quelle heure ?"), T0 + 1)
    feed(core, [server.error("server_error", "The server had an error", "server_error")])
    assert isinstance(core.connection_lost(T0 + 1.2, 1011, "server_error")[-1], Reconnect)
    replay = core.connected(T0 + 2)
    assert kinds(replay) == ["session.update", "conversation.item.create", "response.create"]
    [item] = [e["item"] for e in sent(replay, "conversation.item.create")]
    assert item["content"] == [{"type": "input_text", "text": "La salle ferme à quelle heure ?"}]
    assert feed(core, [server.session_updated()], T0 + 2.1) == []  # asked once, not twice
    # Lost again before the answer came: asked again on the next connection, once.
    core.connection_lost(T0 + 2.5, 1006, "")
    assert kinds(core.connected(T0 + 3)).count("response.create") == 1
    feed(core, [server.session_updated()])
    feed(core, server.spoken_answer("r1", "a1", "À vingt-deux heures.", 400), T0 + 3.5)
    # Answered: the next reconnect only replays.
    core.connection_lost(T0 + 4, 1006, "")
    assert "response.create" not in kinds(core.connected(T0 + 5))
    [first, *_] = [t for t in core.facts.latencies if t.response_ms is not None]
    assert first.after_reconnect
    assert first.response_ms == 2500  # from the end of the question: the outage included


def test_words_never_transcribed_are_replayed_as_the_members_own_audio() -> None:
    # The connection dropped as soon as the question was committed: the kiosk has no
    # transcript, only the audio it sent; it replays exactly that audio.
    server = Server()
    core = active(server)
    quiet, words = bytes(300 * 48), pcm(1200)
    for chunk in (quiet, words[: 600 * 48], words[600 * 48 :], bytes(500 * 48)):
        core.microphone(chunk, T0 + 1)
    feed(
        core,
        [
            server.speech_started("u1", 300),
            server.speech_stopped("u1", 1500),
            server.committed("u1"),
        ],
        T0 + 2,
    )
    core.connection_lost(T0 + 2, None, "connection lost")
    replay = core.connected(T0 + 3)
    assert kinds(replay) == ["session.update", "conversation.item.create", "response.create"]
    [item] = [e["item"] for e in sent(replay, "conversation.item.create")]
    [content] = item["content"]
    assert content["type"] == "input_audio"
    assert base64.b64decode(content["audio"]) == words


def test_an_answer_cut_by_a_lost_connection_stops_and_is_asked_for_again() -> None:
    server = Server()
    core = active(server)
    feed(core, user_turn(server, "u1", "Mes cours ?"), T0 + 1)
    feed(
        core,
        [
            server.response_created("r1"),
            server.message_added("r1", "a1"),
            server.transcript_delta("r1", "a1", "Tu as yoga"),
            server.audio_delta("r1", "a1", 500),
        ],
        T0 + 1.5,
    )
    lost = core.connection_lost(T0 + 2, None, "connection lost")
    assert lost[0] == FlushPlayback("a1")
    assert core.playback_flushed("a1", 300, T0 + 2) == []  # no truncate on a dead connection
    replay = core.connected(T0 + 3)
    # The half answer is not replayed as said: it is asked for again.
    assert kinds(replay) == ["session.update", "conversation.item.create", "response.create"]
    heard = next(t for t in core.snapshot().turns if t.item_id == "a1")
    assert heard.audio_ms == 300


def test_an_answer_whose_audio_all_arrived_is_not_asked_for_again() -> None:
    server = Server()
    core = active(server)
    feed(core, user_turn(server, "u1", "Mes cours ?"), T0 + 1)
    answer = server.spoken_answer("r1", "a1", "Yoga mardi.", 400)
    feed(core, answer[:-1], T0 + 1.5)  # everything but `response.done`
    assert core.connection_lost(T0 + 2, None, "connection lost")[0] != FlushPlayback("a1")
    assert kinds(core.connected(T0 + 3)) == ["session.update"] + 2 * ["conversation.item.create"]


def test_a_barge_in_after_a_reconnect_never_truncates_the_lost_connections_answer() -> None:
    # Defect 2: playback state outlived its connection; the member's first words on the new
    # one truncated an item that connection never had, and the server refused it.
    server = Server()
    core = active(server)
    feed(core, [server.response_created("r1"), server.message_added("r1", "a1")], T0 + 1)
    feed(core, [server.audio_delta("r1", "a1", 500)], T0 + 1)
    core.connection_lost(T0 + 1.2, 1011, "keepalive ping timeout")
    core.connected(T0 + 2)
    feed(core, [server.session_updated()], T0 + 2)
    actions = feed(core, [server.speech_started("u2", 100)], T0 + 2.5)
    for action in actions:
        if isinstance(action, FlushPlayback):
            actions += core.playback_flushed(action.item_id, 300, T0 + 2.5)
    assert sent(actions, "conversation.item.truncate") == []
    assert core.facts.truncations == []


def test_a_tool_result_for_a_lost_connection_is_recorded_but_not_sent() -> None:
    server = Server()
    core = active(server)
    feed(core, server.calls("r1", ("call_1", "a", "{}"), done=None))
    core.connection_lost(T0, 1006, "")
    core.connected(T0 + 1)
    assert core.tool_finished("call_1", ToolCallResponse(ok=True), T0 + 1) == []
    assert core.facts.tool_calls[0].ok


def test_goodbye_ends_the_session_once_the_answer_has_been_played() -> None:
    server = Server()
    core = active(server)
    feed(core, user_turn(server, "u1", "Merci, au revoir !"), T0 + 1)
    feed(core, server.spoken_answer("r1", "a1", "Au revoir Julie !", 800), T0 + 1.1)
    assert core.tick(T0 + 1.2, playing=True) == []
    assert core.tick(T0 + 2.0, playing=False) == [SessionEnded(EndReason.GOODBYE)]
    facts = core.facts.session_facts()
    assert facts.end_reason is EndReason.GOODBYE
    assert [t.role for t in facts.turns] == ["user", "assistant"]


def test_goodbye_waits_for_the_answer_even_when_the_transcript_comes_late() -> None:
    server = Server()
    core = active(server)
    feed(
        core,
        [server.speech_started("u1"), server.speech_stopped("u1", 900), server.committed("u1")],
        T0 + 1,
    )
    feed(core, [server.response_created("r1")], T0 + 1.1)
    feed(core, [server.transcription("u1", "Bye bye!")], T0 + 1.2)
    assert core.tick(T0 + 1.3, playing=False) == []  # the answer is still being generated
    feed(core, [server.audio_delta("r1", "a1", 300), server.response_done("r1")], T0 + 1.4)
    assert core.tick(T0 + 1.9, playing=False) == [SessionEnded(EndReason.GOODBYE)]


def test_a_tool_can_end_the_session_after_the_last_answer() -> None:
    server = Server()
    core = active(server)
    feed(core, server.calls("r1", ("call_1", "end_session", "{}")), T0 + 1)
    core.tool_finished("call_1", ToolCallResponse(ok=True, end_session=True), T0 + 1.2)
    assert core.tick(T0 + 1.3, playing=False) == []
    feed(core, server.spoken_answer("r2", "a2", "À bientôt !", 500), T0 + 1.4)
    assert core.tick(T0 + 2.0, playing=False) == [SessionEnded(EndReason.TOOL_END_SESSION)]


def test_silence_ends_the_session_after_the_idle_timeout() -> None:
    server = Server()
    core = active(server, idle_timeout_s=10)
    feed(core, server.spoken_answer("r1", "a1", "Bonjour", 500), T0 + 1)
    assert core.tick(T0 + 5, playing=True) == []
    assert core.tick(T0 + 14.9, playing=False) == []
    feed(core, [server.speech_started("u1")], T0 + 14.9)
    assert core.tick(T0 + 40, playing=False) == []  # the member is still talking
    feed(core, [server.speech_stopped("u1", 2000)], T0 + 41)
    assert core.tick(T0 + 50.9, playing=False) == []
    assert core.tick(T0 + 51, playing=False) == [SessionEnded(EndReason.IDLE_TIMEOUT)]


def test_the_maximum_duration_ends_the_session_whatever_happens() -> None:
    server = Server()
    core = active(server, max_session_s=60)
    feed(core, [server.response_created("r1")])
    assert core.tick(T0 + 59.9, playing=True) == []
    assert core.tick(T0 + 60, playing=True) == [SessionEnded(EndReason.MAX_DURATION)]
    assert core.facts.ended_at == STARTED + timedelta(seconds=60)


def test_ended_from_outside_the_facts_carry_no_end_reason_of_their_own() -> None:
    server = Server()
    core = active(server)
    assert core.end(EndReason.NEW_BADGE, T0 + 3) == [SessionEnded(EndReason.NEW_BADGE)]
    assert core.end(EndReason.KIOSK_SHUTDOWN, T0 + 4) == []
    assert core.facts.session_facts().end_reason is None
    assert feed(core, [server.response_created("r9")]) == []


def test_latency_is_measured_from_the_end_of_speech_to_first_audio_and_first_sample() -> None:
    server = Server()
    core = active(server)
    for n, (answer_s, played_s) in enumerate([(0.42, 0.5), (0.30, 0.41), (0.61, 0.7)]):
        start = T0 + 10 * n
        feed(core, [server.speech_started(f"u{n}"), server.speech_stopped(f"u{n}", 1000)], start)
        feed(core, [server.response_created(f"r{n}")], start + 0.1)
        feed(core, [server.audio_delta(f"r{n}", f"a{n}", 100)], start + answer_s)
        assert core.awaiting_playback() == [f"a{n}"]
        core.first_sample_played(f"a{n}", start + played_s)
        feed(core, [server.audio_delta(f"r{n}", f"a{n}", 100)], start + answer_s + 0.2)
    assert [(t.response_ms, t.playback_ms) for t in core.facts.latencies] == [
        (420, 500),
        (300, 410),
        (610, 700),
    ]
    latency = core.facts.latency
    assert (
        latency.first_response_ms,
        latency.avg_response_ms,
        latency.p95_response_ms,
        latency.avg_playback_ms,
    ) == (420, 443, 610, 537)


def test_the_record_carries_each_answers_figures_and_each_reconnect_with_its_cause() -> None:
    # Defect 4: only session aggregates reached the record.
    server = Server()
    core = active(server)
    feed(core, user_turn(server, "u1", "Mes cours ?", 0, 1200), T0 + 1)
    feed(core, [server.response_created("r1"), server.message_added("r1", "a1")], T0 + 1.1)
    feed(core, [server.audio_delta("r1", "a1", 1000)], T0 + 1.35)
    core.first_sample_played("a1", T0 + 1.40)
    feed(core, [server.speech_started("u2", 2500)], T0 + 1.9)  # the member cuts in
    core.playback_flushed("a1", 500, T0 + 1.91)
    feed(core, [server.speech_stopped("u2", 3400), server.committed("u2")], T0 + 2.8)
    feed(core, [server.transcription("u2", "Et demain ?")], T0 + 2.8)
    core.connection_lost(T0 + 3.0, 1011, "server_error")
    core.connected(T0 + 3.5)
    feed(core, [server.session_updated()], T0 + 3.6)
    feed(core, server.spoken_answer("r2", "a2", "Rien demain.", 600), T0 + 4.0)
    core.first_sample_played("a2", T0 + 4.06)
    record = build_session_record(
        session_id=uuid4(),
        member=MemberCard(badge_id="04A1B2C3", status=MembershipStatus.ACTIVE, member_id=uuid4()),
        start=None,
        config=KioskConfig(),
        facts=core.snapshot().session_facts(),
        reason=EndReason.GOODBYE,
        started_at=STARTED,
        ended_at=STARTED + timedelta(seconds=5),
    )
    answers = [t for t in record.turns if t.role == "assistant"]
    assert [
        (t.item_id, t.response_ms, t.playback_ms, t.audio_ms, t.interrupted, t.after_reconnect)
        for t in answers
    ] == [
        ("a1", 350, 400, 500, True, False),
        ("a2", 1200, 1260, 600, False, True),  # from the end of "Et demain ?", outage included
    ]
    [lost] = record.reconnects
    assert lost.cause == "connection closed (1011: server_error)"
    assert lost.at == STARTED + timedelta(seconds=3)
    assert (lost.attempt, lost.resumed_after_ms, lost.asked_again) == (1, 600, True)
