"""Barge-in (FIELD_NOTES): the answer audio received, and what became of it at the speaker.

On `input_audio_buffer.speech_started` the kiosk flushes playback at once
(:class:`FlushPlayback`); the adapter answers with the milliseconds of that item it had
actually played (:meth:`RealtimeSession.playback_flushed`), and the session sends
`conversation.item.truncate` at ``min(played, received)`` — or nothing when nothing was
played, or everything was. The server cancels its own response (`interrupt_response`), so
no `response.cancel` is sent.

Everything here belongs to one connection: the session makes a new :class:`Playback` for each,
so an item of a lost connection is never truncated on the next one (the server there has
never heard of it and refuses with `invalid_value`).
"""

from __future__ import annotations

from kiosk_agent.core.realtime.actions import Action, FinishAudio, FlushPlayback
from kiosk_agent.core.realtime.protocol import BYTES_PER_MS


class Playback:
    def __init__(self, barge_in: bool) -> None:
        """``barge_in``: the member's speech interrupts JARVIS (`interrupt_response`)."""
        self._barge_in = barge_in
        self._received_ms: dict[str, float] = {}
        self._audio_done: set[str] = set()
        self._flushed: set[str] = set()
        self._speaking: str | None = None

    def member_started(self) -> list[Action]:
        """The member started speaking: silence what JARVIS is saying, if barge-in is on."""
        if self._barge_in and self._speaking is not None:
            item = self._speaking
            self._speaking = None
            return [FlushPlayback(item)]
        return []

    def interrupted(self, item_id: str) -> bool:
        """The member interrupted this item: its late audio is not played."""
        return item_id in self._flushed

    def started(self, item_id: str) -> bool:
        """Audio of this item has arrived already."""
        return item_id in self._received_ms

    def received(self, item_id: str, pcm: bytes) -> int:
        """Audio of ``item_id`` arrived to be played: the milliseconds received so far."""
        self._received_ms[item_id] = self._received_ms.get(item_id, 0.0) + len(pcm) / BYTES_PER_MS
        self._speaking = item_id
        return int(self._received_ms[item_id])

    def done(self, item_id: str) -> list[Action]:
        """No more audio will come for ``item_id``."""
        self._audio_done.add(item_id)
        return [] if item_id in self._flushed else [FinishAudio(item_id)]

    def flushed(self, item_id: str, played_ms: int) -> int | None:
        """Playback of ``item_id`` was flushed after ``played_ms``: where to truncate it, or
        None when nothing was played, or everything was."""
        self._flushed.add(item_id)
        if self._speaking == item_id:
            self._speaking = None
        received = int(self._received_ms.get(item_id, 0))
        end = min(played_ms, received)
        heard_all = item_id in self._audio_done and played_ms >= received
        if end <= 0 or heard_all:
            return None
        return end

    def unfinished(self) -> str | None:
        """The item still arriving when the connection was lost: its answer is incomplete."""
        item = self._speaking
        if item is None or item in self._audio_done or item in self._flushed:
            return None
        return item

    def drained(self) -> None:
        """The speaker has nothing left to play: an item whose audio is all in was heard."""
        if self._speaking is not None and self._speaking in self._audio_done:
            self._speaking = None
