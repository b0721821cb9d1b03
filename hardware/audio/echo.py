"""The echo policy: when the microphone may be heard by the assistant.

A kiosk's microphone hears its own speaker. Without echo cancellation the assistant hears
itself, takes it for the member, and interrupts itself: the top complaint of every voice
satellite. The default policy therefore gates the microphone while the kiosk is playing and
for a tail after (room reverberation, the device's output latency); the price is that the
member cannot interrupt the assistant by voice. With an echo-cancelling device (a conference
speakerphone, a ReSpeaker array with AEC firmware) the microphone stays open and barge-in
works.
"""

from __future__ import annotations

from dataclasses import dataclass

from hardware.settings import EchoMode


@dataclass(frozen=True, slots=True)
class EchoPolicy:
    """Decides, per captured frame, whether the microphone is muted."""

    mode: EchoMode = EchoMode.GATE
    tail_s: float = 0.3

    def mutes(self, captured_at: float, audible_since: float, last_audible_at: float) -> bool:
        """Whether the block that arrived at ``captured_at`` may hold the kiosk's own voice.

        ``audible_since`` and ``last_audible_at`` bound the speaker's latest stretch of
        playback (same clock): a block that arrived after the stretch began, and up to the
        tail after it ended, is muted.
        """
        if self.mode is EchoMode.OPEN:
            return False
        return audible_since < captured_at <= last_audible_at + self.tail_s
