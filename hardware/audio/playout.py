"""When an answer's first samples may play, and how that delay adapts (the playout delay).

The Realtime API sends an answer in deltas (100 ms each from OpenAI), faster than real time
or, from a slow server, at real time. A buffer that starts as soon as a delta arrives runs
dry before the next one whenever the deltas come at the pace they are played: the playback
resampler holds back ~30 ms of each item (its filter needs look-ahead), so the first 100 ms
delta yields 70 ms of sound, then 30 ms of silence (issue 9, defect 6). A fixed queue
threshold cannot tell that answer from a short one that is all there; waiting a little
*time* can:

- an answer starts once its first audio has waited ``delay`` (counted from the first device
  callback that saw it, so on a block boundary), or at once when a burst already queued
  ``delay`` plus one delta's worth (a fast server), or when its audio is complete;
- after an underrun inside an answer the delay grows by ``step_up`` (up to ``ceiling``),
  and the answer starts again only after waiting the new delay;
- when an answer plays to its end without an underrun and its queue never fell below
  ``spare`` ahead of the speaker, deliveries run ahead: the delay shrinks by up to
  ``step_down`` toward ``floor`` (the configured prebuffer).

Everything here runs in the device callback: integer and float arithmetic only, no
allocation.
"""

from __future__ import annotations

BURST_MS = 100
"""A queue this much beyond the delay starts at once: the server is ahead of real time."""
STEP_UP_MS = 40
STEP_DOWN_MS = 10
SPARE_MS = 80


class PlayoutDelay:
    """The delay (in device samples) an answer waits before it plays; consumer-side only."""

    def __init__(self, rate: int, floor: int, ceiling: int) -> None:
        if not 0 <= floor <= ceiling:
            raise ValueError(f"the playout delay needs 0 <= floor ({floor}) <= ceiling ({ceiling})")
        self.rate = rate
        self.floor = floor
        self.ceiling = ceiling
        self.delay = floor
        """Samples the first audio of an answer waits now."""
        self._burst = rate * BURST_MS // 1000
        self._step_up = rate * STEP_UP_MS // 1000
        self._step_down = rate * STEP_DOWN_MS // 1000
        self._spare_needed = rate * SPARE_MS // 1000
        self._waiting_since = -1.0
        self._spare = -1
        """Fewest samples queued after a block played in this answer (-1: none yet)."""
        self._underran = False

    def may_start(self, available: int, complete: bool, now: float) -> bool:
        """Audio is queued and not playing: may it start at this callback (time ``now``)?"""
        if complete:
            if self._spare < 0:  # all of it arrived before a sample was played: far ahead
                self._spare = self._spare_needed + self._step_down + 1
            return True
        if self._waiting_since < 0:
            self._waiting_since = now
        waited = (now - self._waiting_since) * self.rate
        if waited >= self.delay or available >= self.delay + self._burst:
            self._waiting_since = -1.0
            return True
        return False

    def played(self, left: int) -> None:
        """A block played in full; ``left`` samples are still queued behind it."""
        if self._spare < 0 or left < self._spare:
            self._spare = left

    def underrun(self) -> None:
        """The buffer ran dry inside an answer: wait longer from now on."""
        self.delay = min(self.ceiling, self.delay + self._step_up)
        self._underran = True
        self._waiting_since = -1.0

    def answer_over(self) -> None:
        """The answer played to its end: shrink when it ran well ahead the whole time."""
        if not self._underran and self._spare > self._spare_needed:
            shrink = min(self._step_down, self._spare - self._spare_needed)
            self.delay = max(self.floor, self.delay - shrink)
        self.reset()

    def reset(self) -> None:
        """Forget the answer in progress (it ended, or was flushed)."""
        self._waiting_since = -1.0
        self._spare = -1
        self._underran = False

    @property
    def delay_ms(self) -> int:
        return self.delay * 1000 // self.rate
