"""The output buffer between the event loop and the speaker's callback.

It does four things the Realtime conversation needs, without the callback ever allocating,
locking or waiting:

- plays silence when it has nothing (an underrun is counted when audio was expected, never
  raised), after holding an answer's first audio back for an adaptive playout delay
  (:mod:`hardware.audio.playout`) so deltas paced at real time and network jitter do not
  chop it;
- counts, per response item, the samples actually handed to the device, so a barge-in can
  truncate the item at what the member really heard;
- flushes to silence within one device block: the next callback after a flush request
  plays none of the queued audio;
- keeps what does not fit in the ring in a backlog instead of refusing it (the Realtime API
  sends audio faster than real time).

Producer methods run in the event loop's thread, consumer methods in the device's thread.
Each shared field is written by one side only; flush requests and their results travel
through sequence numbers and a small preallocated table of skipped ranges.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hardware.audio.playout import PlayoutDelay
from hardware.audio.ring import SampleRing, Samples

_SKIP_SLOTS = 64  # flushes the producer may fall behind on reading; one per barge-in
_ITEMS_REMEMBERED = 256  # played totals kept for items the device is done with


@dataclass(slots=True)
class _Segment:
    item_id: str
    start: int
    end: int


class PlaybackBuffer:
    """Device-rate samples tagged by response item, read by the output callback."""

    def __init__(
        self,
        capacity: int,
        prebuffer: int,
        *,
        rate: int = 48_000,
        prebuffer_max: int | None = None,
    ) -> None:
        """``prebuffer``: the playout delay answers start with, and its floor (samples);
        ``prebuffer_max``: how far it may grow after underruns (default: 5x, at least
        300 ms); ``rate``: the device's sample rate (callback times are in seconds)."""
        if not 0 <= prebuffer < capacity:
            raise ValueError(f"prebuffer ({prebuffer}) must be below capacity ({capacity})")
        ceiling = prebuffer_max if prebuffer_max is not None else max(5 * prebuffer, rate * 3 // 10)
        self._ring = SampleRing(capacity)
        self.playout = PlayoutDelay(rate, prebuffer, min(max(ceiling, prebuffer), capacity - 1))
        # Producer-owned.
        self._segments: deque[_Segment] = deque()
        self._backlog: deque[tuple[str, Samples]] = deque()
        self._played_done: dict[str, int] = {}
        self._skips_seen = 0
        self._skipped: list[tuple[int, int]] = []
        self._flush_target = 0
        self._flush_seq = 0
        self._draining = True
        # Consumer-owned.
        self._flush_done = 0
        self._skip_table: npt.NDArray[np.int64] = np.zeros((_SKIP_SLOTS, 2), dtype=np.int64)
        self._skips_done = 0
        self._primed = False
        self.underruns = 0
        """Callbacks that ran dry while more audio was expected (choppy playback)."""
        self.last_audible_at = float("-inf")
        """Time (as given to read_into) of the last callback that played queued audio."""
        self.audible_since = float("-inf")
        """Start of the current stretch of playback (gaps shorter than ``stretch_gap``
        do not end a stretch)."""
        self.stretch_gap = 0.3

    # ----------------------------------------------------------------- producer side

    @property
    def queued(self) -> int:
        """Samples not yet played: in the ring plus in the backlog."""
        return self._ring.available + sum(len(s) for _, s in self._backlog)

    @property
    def backlogged(self) -> bool:
        """Audio is waiting for room in the ring (the loop should call :meth:`pump`)."""
        return bool(self._backlog)

    @property
    def flush_pending(self) -> bool:
        """A flush was requested and the device has not run since."""
        return self._flush_done != self._flush_seq

    def write(self, item_id: str, samples: Samples) -> None:
        """Queue device-rate samples of ``item_id`` (more audio is now expected)."""
        self._draining = False
        if len(samples):
            self._backlog.append((item_id, samples))
        self.pump()

    def end_of_stream(self) -> None:
        """No more audio is expected for now: play the tail, and running dry is no underrun."""
        self._draining = True

    def pump(self) -> None:
        """Move backlog into the ring as space frees up; cheap when there is none."""
        while self._backlog and self._ring.free:
            item_id, samples = self._backlog[0]
            start = self._ring.written
            count = self._ring.write(samples)
            self._add_segment(item_id, start, start + count)
            if count == len(samples):
                self._backlog.popleft()
            else:
                self._backlog[0] = (item_id, samples[count:])

    def request_flush(self) -> None:
        """Drop everything queued so far; the next device callback plays silence."""
        self._harvest_skips()
        self._backlog.clear()
        self._draining = True
        self._flush_target = self._ring.written
        self._flush_seq += 1  # published after the target, read before it

    def played_samples(self, item_id: str) -> int:
        """Samples of ``item_id`` handed to the device so far (flushed ones excluded)."""
        self._harvest_skips()
        self._forget_finished()
        total = self._played_done.get(item_id, 0)
        played_upto = self._ring.read_position
        for segment in self._segments:
            if segment.item_id == item_id:
                total += self._played_in(segment, played_upto)
        return total

    def _add_segment(self, item_id: str, start: int, end: int) -> None:
        last = self._segments[-1] if self._segments else None
        if last is not None and last.item_id == item_id and last.end == start:
            last.end = end
        else:
            self._segments.append(_Segment(item_id, start, end))

    def _played_in(self, segment: _Segment, played_upto: int) -> int:
        played = max(0, min(segment.end, played_upto) - segment.start)
        for skip_from, skip_to in self._skipped:
            played -= max(0, min(segment.end, skip_to) - max(segment.start, skip_from))
        return played

    def _harvest_skips(self) -> None:
        done = self._skips_done
        while self._skips_seen < done:
            slot = self._skips_seen % _SKIP_SLOTS
            self._skipped.append((int(self._skip_table[slot, 0]), int(self._skip_table[slot, 1])))
            self._skips_seen += 1

    def _forget_finished(self) -> None:
        """Fold segments the device is past into per-item totals, keeping lookups short."""
        played_upto = self._ring.read_position
        while self._segments and self._segments[0].end <= played_upto:
            segment = self._segments.popleft()
            played = self._played_in(segment, played_upto)
            self._played_done[segment.item_id] = self._played_done.get(segment.item_id, 0) + played
        while len(self._played_done) > _ITEMS_REMEMBERED:
            del self._played_done[next(iter(self._played_done))]
        oldest = self._segments[0].start if self._segments else played_upto
        self._skipped = [(a, b) for a, b in self._skipped if b > oldest]

    # ----------------------------------------------------------------- consumer side

    def read_into(self, out: Samples, now: float) -> None:
        """Device callback: fill ``out`` with queued audio, or silence."""
        seq = self._flush_seq
        if seq != self._flush_done:
            target = self._flush_target
            skip_from = self._ring.read_position
            if self._ring.skip_to(target):
                slot = self._skips_done % _SKIP_SLOTS
                self._skip_table[slot, 0] = skip_from
                self._skip_table[slot, 1] = self._ring.read_position
                self._skips_done += 1
            self._primed = False
            self.playout.reset()
            self._flush_done = seq
        available = self._ring.available
        if not self._primed:
            if available == 0 or not self.playout.may_start(available, self._draining, now):
                out[:] = 0
                return
            self._primed = True
        count = self._ring.read_into(out)
        if count < len(out):
            out[count:] = 0
            self._primed = False
            if self._draining:
                self.playout.answer_over()
            else:
                self.underruns += 1
                self.playout.underrun()
        elif not self._draining:
            self.playout.played(self._ring.available)
        if count:
            if now - self.last_audible_at > self.stretch_gap:
                self.audible_since = now
            self.last_audible_at = now
