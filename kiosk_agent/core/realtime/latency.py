"""Latency per turn: end of the member's speech → first answer audio received, then played."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class TurnLatency:
    """One answer's latency: end of the member's speech → first audio received / played."""

    user_item_id: str | None
    speech_stopped_at: float
    answer_item_id: str | None = None
    """JARVIS's item whose first audio answered (its first item, when a tool comes next)."""
    response_ms: int | None = None
    playback_ms: int | None = None
    first_audio_at: float | None = None
    """When the first answer audio arrived (the adapter's clock), for finer figures."""
    first_played_at: float | None = None
    after_reconnect: bool = False
    """The answer was asked for again on a new connection (the first one was lost)."""


class LatencyClock:
    """The turn waiting for its answer's first audio, and the answers whose first played
    sample the figures still wait for."""

    def __init__(self) -> None:
        self._pending: TurnLatency | None = None
        self._awaiting_play: dict[str, TurnLatency] = {}
        self._stopped: tuple[str, float] | None = None

    def speech_stopped(self, user_item_id: str, now: float) -> TurnLatency:
        """The member stopped speaking: a new turn waits for its answer."""
        self._pending = TurnLatency(user_item_id, now)
        self._stopped = (user_item_id, now)
        return self._pending

    def asked_again(self, user_item_id: str) -> TurnLatency | None:
        """The answer to ``user_item_id`` is asked for again on a new connection, measured
        from the end of the member's words so the figure includes the outage: the turn
        still waiting is marked, or a new one is returned (when the lost connection had
        started answering). None when the words' end is not known."""
        if self._pending is not None:
            if self._pending.user_item_id == user_item_id:
                self._pending.after_reconnect = True
            return None
        if self._stopped is None or self._stopped[0] != user_item_id:
            return None
        self._pending = TurnLatency(user_item_id, self._stopped[1], after_reconnect=True)
        return self._pending

    def forget_pending(self) -> None:
        """No answer will come for the waiting turn (the member speaks again, or the
        connection is gone)."""
        self._pending = None

    def first_audio(self, item_id: str, now: float) -> None:
        """The first audio of answer ``item_id`` arrived."""
        if self._pending is not None:
            latency = self._pending
            latency.answer_item_id = item_id
            latency.first_audio_at = now
            latency.response_ms = max(0, round((now - latency.speech_stopped_at) * 1000))
            self._awaiting_play[item_id] = latency
            self._pending = None

    def first_sample_played(self, item_id: str, now: float) -> None:
        """The speaker played the first sample of ``item_id``."""
        latency = self._awaiting_play.pop(item_id, None)
        if latency is not None:
            latency.first_played_at = now
            latency.playback_ms = max(0, round((now - latency.speech_stopped_at) * 1000))

    def awaiting_playback(self) -> list[str]:
        """Items whose first played sample the latency figures still wait for."""
        return list(self._awaiting_play)
