"""The kiosk's core and the simulator's session talking through a fake network (virtual time)."""

from __future__ import annotations

import json

import pytest

from contract.kiosk_api import EndReason
from kiosk_agent.core.realtime import SessionLimits
from simulator.responses import Pacing
from simulator.script import Fault, Script, ScriptedToolCall, ScriptTurn
from tests.unit.realtime.kiosk_session import KIOSK_SESSION
from tests.unit.realtime.pairing import Pairing
from tests.unit.realtime.server_events import pcm

SESSION = KIOSK_SESSION
SCRIPT = Script(
    language="fr",
    greeting="Bonjour Julie, que puis-je faire pour toi aujourd'hui à la salle ?",
    turns=[
        ScriptTurn(
            member="Quels sont mes cours cette semaine ?",
            before_tool="Je regarde ton planning.",
            tool=ScriptedToolCall(name="get_member_schedule", arguments={"period": "week"}),
            assistant="Tu as yoga mardi à dix-huit heures.",
        ),
        ScriptTurn(member="Merci, au revoir !", assistant="Au revoir Julie, bonne séance !"),
    ],
)
SPEECH = pcm(1200)


def usage_of(pairing: Pairing) -> dict[str, int]:
    u = pairing.kiosk.facts.usage
    return {
        "text_in": u.input_text_tokens,
        "audio_in": u.input_audio_tokens,
        "cached": u.input_cached_tokens,
        "text_out": u.output_text_tokens,
        "audio_out": u.output_audio_tokens,
    }


def test_a_conversation_with_a_tool_goes_from_greeting_to_goodbye() -> None:
    pairing = Pairing(
        SCRIPT, SESSION, tool_outputs={"get_member_schedule": {"classes": ["yoga mardi 18h"]}}
    )
    pairing.run_until_quiet()
    pairing.say(SPEECH)
    pairing.run_until_quiet()
    pairing.say(SPEECH)
    pairing.run_until_quiet()

    assert pairing.ended is not None
    assert pairing.ended.reason is EndReason.GOODBYE
    facts = pairing.kiosk.snapshot()
    assert [(t.role, t.content) for t in facts.turns] == [
        ("assistant", SCRIPT.greeting_text),
        ("user", "Quels sont mes cours cette semaine ?"),
        ("assistant", "Je regarde ton planning."),
        ("tool", 'get_member_schedule({"period": "week"}) → ok'),
        ("assistant", "Tu as yoga mardi à dix-huit heures."),
        ("user", "Merci, au revoir !"),
        ("assistant", "Au revoir Julie, bonne séance !"),
    ]
    [call] = facts.tool_calls
    assert call.ok
    assert call.duration_ms == 300
    outputs = pairing.server.log.tool_outputs
    assert list(outputs.values()) == [json.dumps({"classes": ["yoga mardi 18h"]})]
    assert usage_of(pairing) == pairing.server_usage()
    assert facts.transcription_tokens > 0
    assert [t.response_ms is not None and t.playback_ms is not None for t in facts.latencies] == [
        True,
        True,
    ]
    assert facts.errors == []
    assert pairing.flushes == []  # nobody interrupted anybody


def test_barge_in_truncates_the_answer_where_the_member_stopped_hearing_it() -> None:
    # The greeting is generated at twice real time: when the member interrupts one second
    # into it, the server is still producing it and cancels it itself (turn_detected).
    pairing = Pairing(SCRIPT, SESSION, pacing=Pacing(generation_speed=2.0))
    pairing.run(0.2)
    assert pairing.speaker.playing
    pairing.run(1.0)
    pairing.say(SPEECH)
    pairing.run_until_quiet()

    [(item_id, played_ms)] = pairing.flushes
    assert 1000 <= played_ms <= 1400  # 1.2 s of the greeting, give or take the VAD's window
    assert pairing.kiosk.facts.truncations == [(item_id, played_ms)]
    assert pairing.server.log.truncations == [{"item_id": item_id, "audio_end_ms": played_ms}]
    statuses = [status for _, status in pairing.server.log.responses]
    assert statuses[0] == "cancelled"
    cancelled = next(e for e in pairing.server_events if e["type"] == "response.done")
    assert cancelled["response"]["status_details"] == {
        "type": "cancelled",
        "reason": "turn_detected",
    }
    assert pairing.kiosk.facts.cancelled_responses == 1
    assert usage_of(pairing) == pairing.server_usage()  # the cancelled response is billed
    greeting = next(t for t in pairing.kiosk.snapshot().turns if t.item_id == item_id)
    assert greeting.audio_ms == played_ms
    assert pairing.kiosk.facts.errors == []


def reconnecting(script: Script, generation_speed: float) -> Pairing:
    """A pairing that reconnects quickly, with answers generated faster than real time."""
    return Pairing(
        script,
        SESSION,
        pacing=Pacing(generation_speed=generation_speed),
        limits=SessionLimits(idle_timeout_s=8, backoff_initial_s=0.2),
    )


@pytest.mark.parametrize("fault", [Fault.DISCONNECT, Fault.SERVER_ERROR])
def test_a_question_a_failed_connection_left_unanswered_is_answered_after_the_reconnect(
    fault: Fault,
) -> None:
    # Nobody speaks again: the kiosk replays the conversation and asks for the answer.
    script = Script(
        language="en",
        turns=[
            ScriptTurn(
                member="When does the gym close?",
                assistant="At ten tonight, as every weekday.",
                fault=fault,
            ),
        ],
    )
    pairing = reconnecting(script, generation_speed=2.0)
    pairing.run_until_quiet()
    pairing.say(SPEECH)
    pairing.run_until_quiet()
    assert len(pairing.servers) == 2
    second = pairing.servers[1]
    assert second.log.client_events[:3] == [
        "session.update",
        "conversation.item.create",  # the greeting, as said
        "conversation.item.create",  # the question
    ]
    assert second.log.client_events.count("response.create") == 1
    facts = pairing.kiosk.snapshot()
    assert facts.reconnects == 1
    said = [t.content for t in facts.turns if t.role == "assistant"]
    assert said[-1] == "At ten tonight, as every weekday."
    assert facts.errors == [] or facts.errors == [
        "server_error: The server had an error while processing your request. Sorry about that!"
    ]
    answer = [t for t in facts.latencies if t.response_ms is not None][-1]
    assert answer.after_reconnect


def test_a_barge_in_after_a_drop_mid_answer_is_accepted_by_the_new_connection() -> None:
    # The strict simulator refuses a truncate of an item its connection never had: the
    # kiosk must not send one (defect 2), and nothing in the record says otherwise.
    script = Script(
        language="en",
        turns=[
            ScriptTurn(
                member="What are my classes?",
                assistant="Yoga on Tuesday at six, and spinning on Thursday at noon.",
                fault=Fault.DISCONNECT,
            ),
            ScriptTurn(member="And tomorrow?", assistant="Nothing tomorrow."),
        ],
    )
    open_mic = reconnecting(script, generation_speed=1.5)
    open_mic.run_until_quiet()
    open_mic.say(SPEECH)
    open_mic.run(4.0)  # dropped mid-answer, reconnected, the answer is being asked again
    assert len(open_mic.servers) == 2
    open_mic.say(SPEECH)  # the member interrupts on the new connection
    open_mic.run_until_quiet()
    for server in open_mic.servers:
        assert server.log.errors == []
    assert open_mic.kiosk.facts.errors == []
    for item_id, _ in open_mic.kiosk.facts.truncations:
        assert item_id in open_mic.servers[1].conversation.items


def test_a_failed_response_for_lack_of_quota_ends_without_retrying() -> None:
    script = Script(
        language="en",
        turns=[ScriptTurn(member="Hello", assistant="Hi!", fault=Fault.INSUFFICIENT_QUOTA)],
    )
    pairing = Pairing(script, SESSION)
    pairing.run_until_quiet()
    pairing.say(SPEECH)
    pairing.run_until_quiet()
    assert pairing.ended is not None
    assert pairing.ended.reason is EndReason.REALTIME_ERROR
    assert len(pairing.servers) == 1
    assert pairing.kiosk.facts.session_facts().end_reason is EndReason.REALTIME_ERROR


def test_silence_after_the_greeting_ends_on_the_idle_timeout() -> None:
    pairing = Pairing(SCRIPT, SESSION, limits=SessionLimits(idle_timeout_s=3))
    pairing.run(30)
    assert pairing.ended is not None
    assert pairing.ended.reason is EndReason.IDLE_TIMEOUT
    greeting_s = pairing.kiosk.facts.turns[0].audio_ms / 1000  # type: ignore[operator]
    assert 3 + greeting_s <= pairing.now <= 3 + greeting_s + 0.5
