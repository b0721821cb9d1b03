"""The simulator's session, sans-I/O: client events in, GA server events out, time given."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter

from simulator.config import default_session, merge_session
from simulator.errors import redact
from simulator.model import ScriptProgress
from simulator.responses import Pacing
from simulator.script import Fault, Script, ScriptedToolCall, ScriptTurn
from simulator.session import NETWORK_DROP, Close, SimulatedSession
from simulator.voice import Voice, VoiceKind
from tests.unit.realtime.server_events import pcm

Event = dict[str, Any]
SCRIPT = Script(
    language="en",
    greeting="Welcome back!",
    fallback="Could you say that again?",
    turns=[
        ScriptTurn(
            member="What are my classes?",
            before_tool="Let me look.",
            tool=ScriptedToolCall(name="get_member_schedule", arguments={"day": "today"}),
            assistant="Yoga at six.",
        ),
        ScriptTurn(member="Thanks, bye!", assistant="Goodbye!"),
    ],
)
TOOLS = [{"type": "function", "name": "get_member_schedule", "parameters": {"type": "object"}}]
TRANSCRIBED = {
    "type": "realtime",
    "tools": TOOLS,
    "audio": {"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}}},
}
VOICE = Voice(VoiceKind.TONE, "en")
SERVER_EVENT: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)


class Client:
    """Talks to one simulated session and keeps everything it answered."""

    def __init__(
        self,
        update: dict[str, Any] | None = None,
        script: Script = SCRIPT,
        pacing: Pacing | None = None,
        progress: ScriptProgress | None = None,
        max_duration_s: float = 3600,
    ) -> None:
        session = merge_session(
            default_session("gpt-realtime-mini", "sess_t", 0),
            update or {"type": "realtime", "tools": TOOLS},
        )
        self.sim = SimulatedSession(
            session=session,
            progress=progress or ScriptProgress(script),
            voice=VOICE,
            pacing=pacing or Pacing(),
            now=0.0,
            max_duration_s=max_duration_s,
        )
        self.now = 0.0
        self.events: list[Event] = []
        self.poll()

    def send(self, event: Event | str) -> list[Event]:
        self.sim.receive(event if isinstance(event, str) else json.dumps(event), self.now)
        return self.poll()

    def poll(self, advance: float = 0.0) -> list[Event]:
        self.now += advance
        out = self.sim.poll(self.now)
        for event in out:
            SERVER_EVENT.validate_python(event)  # every event is a GA event the SDK accepts
        self.events += out
        return out

    def speak(self, ms: int = 1000, silence_ms: int = 700) -> list[Event]:
        audio = pcm(ms) + bytes(silence_ms * 48)
        out: list[Event] = []
        for i in range(0, len(audio), 960):
            out += self.send(
                {
                    "type": "input_audio_buffer.append",
                    "audio": base64.b64encode(audio[i : i + 960]).decode(),
                }
            )
        return out


def types(events: list[Event]) -> list[str]:
    return [e["type"] for e in events]


def only(events: list[Event], kind: str) -> list[Event]:
    return [e for e in events if e["type"] == kind]


def error_of(events: list[Event]) -> dict[str, Any]:
    [error] = only(events, "error")
    return dict(error["error"])


def test_a_session_starts_with_session_created() -> None:
    client = Client()
    [created] = client.events
    assert created["type"] == "session.created"
    assert created["session"]["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 500


def test_session_update_merges_and_fills_turn_detection_defaults() -> None:
    client = Client()
    [updated] = client.send(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "instructions": "Be brief.",
                "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 0.7}}},
            },
        }
    )
    session = updated["session"]
    assert session["instructions"] == "Be brief."
    assert session["tools"] == TOOLS  # untouched fields stay
    assert session["audio"]["input"]["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.7,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
        "idle_timeout_ms": None,
        "create_response": True,
        "interrupt_response": True,
    }
    assert session["audio"]["output"]["voice"] == "alloy"


@pytest.mark.parametrize(
    ("session", "code", "param"),
    [
        ({"type": "realtime", "colour": "blue"}, "unknown_parameter", "session.colour"),
        ({"instructions": "x"}, "missing_required_parameter", "session.type"),
        (
            {
                "type": "realtime",
                "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}},
            },
            "invalid_value",
            "session.audio.input.format.rate",
        ),
        (
            {
                "type": "realtime",
                "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 3}}},
            },
            "invalid_value",
            "session.audio.input.turn_detection.threshold",
        ),
        (
            {"type": "realtime", "audio": {"output": {"voice": "hal9000"}}},
            "invalid_value",
            "session.audio.output.voice",
        ),
        (
            {"type": "realtime", "max_output_tokens": "lots"},
            "invalid_value",
            "session.max_output_tokens",
        ),
    ],
)
def test_a_bad_session_update_is_refused_with_the_parameter_named(
    session: Event, code: str, param: str
) -> None:
    client = Client()
    error = error_of(
        client.send({"type": "session.update", "event_id": "evt_1", "session": session})
    )
    assert (error["type"], error["code"], error["param"], error["event_id"]) == (
        "invalid_request_error",
        code,
        param,
        "evt_1",
    )


def test_the_voice_cannot_change_once_the_assistant_has_spoken() -> None:
    client = Client()
    client.send({"type": "response.create"})
    error = error_of(
        client.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"output": {"voice": "verse"}}},
            }
        )
    )
    assert error["code"] == "cannot_update_voice"


@pytest.mark.parametrize(
    ("event", "code", "param"),
    [
        ('{"type": "response.create"', "invalid_json", None),
        ("[1, 2]", "invalid_json", None),
        ({"type": "session.explode"}, "invalid_value", "type"),
        ({"type": "response.audio.delta"}, "invalid_value", "type"),  # a beta/server name
        ({"no": "type"}, "missing_required_parameter", "type"),
        ({"type": "input_audio_buffer.append"}, "missing_required_parameter", "audio"),
        ({"type": "input_audio_buffer.append", "audio": "%%%"}, "invalid_value", "audio"),
        (
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(b"abc").decode()},
            "invalid_value",
            "audio",
        ),
        (
            {
                "type": "conversation.item.create",
                "item": {"type": "function_call_output", "call_id": "call_nope", "output": "{}"},
            },
            "invalid_tool_call_id",
            "item.call_id",
        ),
        (
            {"type": "conversation.item.create", "item": {"type": "telepathy"}},
            "invalid_value",
            "item.type",
        ),
        ({"type": "conversation.item.delete", "item_id": "item_nope"}, "invalid_value", "item_id"),
        ({"type": "response.cancel"}, "response_cancel_not_active", None),
        ({"type": "input_audio_buffer.commit"}, "input_audio_buffer_commit_empty", None),
    ],
)
def test_bad_client_events_get_an_error_event_and_the_session_goes_on(
    event: Event | str, code: str, param: str | None
) -> None:
    client = Client()
    error = error_of(client.send(event))
    assert (error["code"], error["param"]) == (code, param)
    assert client.sim.close is None
    assert types(client.send({"type": "response.create"}))[0] == "response.created"


def test_a_response_is_created_while_another_is_active_is_refused() -> None:
    client = Client(pacing=Pacing(response_delay_ms=500))
    client.send({"type": "response.create"})
    error = error_of(client.send({"type": "response.create"}))
    assert error["code"] == "conversation_already_has_active_response"


def test_the_greeting_comes_first_then_the_fallback() -> None:
    client = Client()
    first = client.send({"type": "response.create"})
    second = client.send({"type": "response.create"})
    assert only(first, "response.output_audio_transcript.done")[0]["transcript"] == "Welcome back!"
    assert only(second, "response.output_audio_transcript.done")[0]["transcript"] == (
        "Could you say that again?"
    )


def test_answer_audio_is_the_voice_rendering_in_chunks_with_its_transcript() -> None:
    client = Client()
    out = client.send({"type": "response.create"})
    audio = b"".join(base64.b64decode(e["delta"]) for e in only(out, "response.output_audio.delta"))
    assert audio == VOICE.pcm("Welcome back!")
    deltas = "".join(e["delta"] for e in only(out, "response.output_audio_transcript.delta"))
    assert deltas == "Welcome back!"
    assert types(out)[:5] == [
        "response.created",
        "rate_limits.updated",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
    ]
    assert types(out)[-6:] == [
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
    ]
    usage = only(out, "response.done")[0]["response"]["usage"]
    assert usage["output_token_details"]["audio_tokens"] == -(-len(audio) // 48 // 50)


def test_a_spoken_turn_is_detected_committed_transcribed_and_answered_with_a_tool() -> None:
    client = Client(
        {
            "type": "realtime",
            "tools": TOOLS,
            "audio": {"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}}},
        }
    )
    out = client.speak(1000)
    assert types(out)[:5] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    started, stopped, committed = out[:3]
    assert started["item_id"] == stopped["item_id"] == committed["item_id"]
    [transcribed] = only(out, "conversation.item.input_audio_transcription.completed")
    assert transcribed["transcript"] == "What are my classes?"
    assert transcribed["usage"]["input_tokens"] == 15  # 1.5 s: the speech and its end silence
    [call] = only(out, "response.function_call_arguments.done")
    assert (call["name"], json.loads(call["arguments"])) == (
        "get_member_schedule",
        {"day": "today"},
    )
    said = only(out, "response.output_audio_transcript.done")
    assert [s["transcript"] for s in said] == ["Let me look."]

    client.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "function_call_output",
                "call_id": call["call_id"],
                "output": '{"yoga": "6pm"}',
            },
        }
    )
    answer = client.send({"type": "response.create"})
    assert only(answer, "response.output_audio_transcript.done")[0]["transcript"] == "Yoga at six."
    assert client.sim.log.tool_outputs == {call["call_id"]: '{"yoga": "6pm"}'}


def test_a_tool_the_session_does_not_declare_is_not_called() -> None:
    client = Client({"type": "realtime"})
    out = client.speak()
    assert only(out, "response.function_call_arguments.done") == []
    assert only(out, "response.output_audio_transcript.done")[0]["transcript"] == "Yoga at six."


def test_speech_past_the_script_gets_the_fallback() -> None:
    client = Client(
        script=Script(language="en", fallback="Pardon?"),
        update={"type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}},
    )
    out = client.speak(800)
    transcript = only(out, "conversation.item.input_audio_transcription.completed")[0]
    assert transcript["transcript"] == "(speech not in the script, 1300 ms)"
    assert only(out, "response.output_audio_transcript.done")[0]["transcript"] == "Pardon?"


def test_without_turn_detection_the_client_commits_and_asks() -> None:
    client = Client({"type": "realtime", "audio": {"input": {"turn_detection": None}}})
    out = client.speak(500, 0)
    assert out == []
    committed = client.send({"type": "input_audio_buffer.commit"})
    assert types(committed) == [
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    assert types(client.send({"type": "response.create"}))[0] == "response.created"


def test_speech_interrupts_the_response_in_progress() -> None:
    client = Client(pacing=Pacing(generation_speed=1.0))
    client.send({"type": "response.create"})
    client.poll(0.5)
    out = client.speak(300, 0)
    assert types(out)[0] == "input_audio_buffer.speech_started"
    [done] = only(out, "response.done")
    assert done["response"]["status"] == "cancelled"
    assert done["response"]["status_details"]["reason"] == "turn_detected"
    [item] = only(out, "response.output_item.done")
    assert item["item"]["status"] == "incomplete"
    generated = done["response"]["usage"]["output_token_details"]["audio_tokens"]
    full = -(-len(VOICE.pcm("Welcome back!")) // 48 // 50)
    assert 0 < generated < full  # only what was produced is billed


def test_a_client_cancel_stops_the_response() -> None:
    client = Client(pacing=Pacing(response_delay_ms=200))
    client.send({"type": "response.create"})
    out = client.send({"type": "response.cancel"})
    [done] = only(out, "response.done")
    assert (done["response"]["status"], done["response"]["status_details"]["reason"]) == (
        "cancelled",
        "client_cancelled",
    )
    assert client.poll(1.0) == []  # nothing more of it is released


def spoken_item(client: Client) -> tuple[str, int]:
    out = client.send({"type": "response.create"})
    item_id = only(out, "response.output_audio.done")[0]["item_id"]
    audio = sum(len(base64.b64decode(e["delta"])) for e in only(out, "response.output_audio.delta"))
    return item_id, audio // 48


@pytest.mark.parametrize(
    ("truncate", "message"),
    [
        ({"audio_end_ms": 0}, "greater than 0"),
        ({"audio_end_ms": 60_000}, "already shorter than 60000ms"),
        ({"audio_end_ms": 100, "content_index": 1}, "content_index"),
        ({"audio_end_ms": 100, "item_id": "item_unknown"}, "not found"),
    ],
)
def test_truncation_at_zero_past_the_end_or_of_another_item_is_refused(
    truncate: Event, message: str
) -> None:
    client = Client()
    item_id, _ = spoken_item(client)
    error = error_of(
        client.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": 0,
                **truncate,
            }
        )
    )
    assert error["code"] == "invalid_value"
    assert message in error["message"]
    assert client.sim.log.truncations == []


def test_only_assistant_audio_can_be_truncated() -> None:
    client = Client()
    out = client.speak()
    user_item = out[0]["item_id"]
    error = error_of(
        client.send(
            {
                "type": "conversation.item.truncate",
                "item_id": user_item,
                "content_index": 0,
                "audio_end_ms": 100,
            }
        )
    )
    assert "Only assistant messages" in error["message"]


def test_truncation_shortens_what_the_next_response_reads() -> None:
    client = Client()
    item_id, ms = spoken_item(client)
    [truncated] = client.send(
        {
            "type": "conversation.item.truncate",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": 500,
        }
    )
    assert truncated == {
        **truncated,
        "type": "conversation.item.truncated",
        "item_id": item_id,
        "audio_end_ms": 500,
        "content_index": 0,
    }
    out = client.send({"type": "response.create"})
    usage = only(out, "response.done")[0]["response"]["usage"]
    assert usage["input_token_details"]["audio_tokens"] == 10  # 500 ms of assistant audio
    assert ms > 500


def test_long_conversations_report_the_previous_prefix_as_cached() -> None:
    client = Client({"type": "realtime", "instructions": "x" * 6000})
    first = only(client.send({"type": "response.create"}), "response.done")[0]
    second = only(client.send({"type": "response.create"}), "response.done")[0]
    read_first = first["response"]["usage"]["input_tokens"]
    details = second["response"]["usage"]["input_token_details"]
    assert first["response"]["usage"]["input_token_details"]["cached_tokens"] == 0
    assert details["cached_tokens"] == read_first // 64 * 64
    assert second["response"]["usage"]["input_tokens"] > read_first


def test_text_sessions_answer_in_text() -> None:
    client = Client({"type": "realtime", "output_modalities": ["text"]})
    out = client.send({"type": "response.create"})
    assert only(out, "response.output_audio.delta") == []
    assert only(out, "response.output_text.done")[0]["text"] == "Welcome back!"


def test_a_scripted_disconnect_drops_the_connection_halfway_through_the_answer() -> None:
    script = Script(
        language="en",
        turns=[ScriptTurn(member="Hi", assistant="Hello there, how are you?", fault="disconnect")],
    )
    progress = ScriptProgress(script)
    first = Client(TRANSCRIBED, script=script, progress=progress)
    out = first.speak()
    assert first.sim.close == NETWORK_DROP
    assert only(out, "conversation.item.input_audio_transcription.completed")
    deltas = only(out, "response.output_audio.delta")
    full = len(VOICE.pcm("Hello there, how are you?")) // (100 * 48)
    assert 1 <= len(deltas) < full  # cut halfway: no `output_audio.done`, no `response.done`
    assert only(out, "response.done") == []
    assert first.speak() == []  # a closed session hears nothing more
    # A new connection answers nothing by itself: the question was heard on the lost one.
    second = Client(script=script, progress=progress)
    assert only(second.poll(1.0), "response.created") == []


@pytest.mark.parametrize(
    "content",
    [
        {"type": "input_text", "text": "Hi"},
        {"type": "input_audio", "audio": base64.b64encode(pcm(800)).decode()},
    ],
)
def test_a_question_a_lost_connection_left_unanswered_is_answered_once_replayed(
    content: Event,
) -> None:
    script = Script(
        language="en", turns=[ScriptTurn(member="Hi", assistant="Hello!", fault="server_error")]
    )
    progress = ScriptProgress(script)
    first = Client(TRANSCRIBED, script=script, progress=progress)
    out = first.speak()
    assert only(out, "conversation.item.input_audio_transcription.completed")[0]["transcript"] == (
        "Hi"
    )
    assert error_of(out)["code"] == "server_error"
    second = Client(script=script, progress=progress)
    second.send(
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": [content]},
        }
    )
    answer = second.send({"type": "response.create"})
    assert only(answer, "response.output_audio_transcript.done")[0]["transcript"] == "Hello!"
    assert progress.unanswered is None  # answered: nothing is owed any more


@pytest.mark.parametrize(
    ("item", "param"),
    [
        ({"role": "assistant", "content": [{"type": "input_text", "text": "x"}]}, "type"),
        ({"role": "user", "content": [{"type": "output_text", "text": "x"}]}, "type"),
        ({"role": "user", "content": [{"type": "input_audio", "audio": "***"}]}, "audio"),
        ({"role": "user", "content": [{"type": "input_text"}]}, "text"),
    ],
)
def test_message_content_is_checked_against_its_role(item: Event, param: str) -> None:
    client = Client()
    error = error_of(
        client.send({"type": "conversation.item.create", "item": {"type": "message", **item}})
    )
    assert error["param"] == f"item.content[0].{param}"
    assert client.sim.conversation.items == {}


def test_an_item_of_another_connection_cannot_be_truncated() -> None:
    progress = ScriptProgress(SCRIPT)
    first = Client(progress=progress)
    item_id, _ = spoken_item(first)
    second = Client(progress=progress)
    error = error_of(
        second.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": 100,
            }
        )
    )
    assert (error["code"], error["param"]) == ("invalid_value", "item_id")
    assert second.sim.log.truncations == []


def test_a_scripted_server_error_is_sent_before_closing() -> None:
    script = Script(
        language="en", turns=[ScriptTurn(member="Hi", assistant="Hello!", fault=Fault.SERVER_ERROR)]
    )
    client = Client(script=script)
    error = error_of(client.speak())
    assert (error["type"], error["code"]) == ("server_error", "server_error")
    assert client.sim.close == Close(1011, "server_error")


def test_a_scripted_quota_failure_fails_the_response() -> None:
    script = Script(
        language="en",
        turns=[ScriptTurn(member="Hi", assistant="Hello!", fault=Fault.INSUFFICIENT_QUOTA)],
    )
    client = Client(script=script)
    [done] = only(client.speak(), "response.done")
    assert done["response"]["status"] == "failed"
    assert done["response"]["status_details"]["error"]["code"] == "insufficient_quota"
    assert done["response"]["usage"]["total_tokens"] == 0


def test_sessions_expire_after_their_maximum_duration() -> None:
    client = Client(max_duration_s=60)
    assert client.poll(59.9) == []
    assert error_of(client.poll(0.2))["code"] == "session_expired"
    assert client.sim.close == Close(1000, "session_expired")


def test_keys_are_never_echoed_back_in_full() -> None:
    assert redact("Incorrect API key provided: sk-proj-abcdef123456.") == (
        "Incorrect API key provided: sk-pro***."
    )
    assert "ek_0123456789abcdef" not in redact("key ek_0123456789abcdef expired")
