"""The microphone audio sent on the current connection, kept long enough to replay the
member's last words when the server never got to transcribe them (the connection dropped
right after they were committed)."""

from __future__ import annotations

from kiosk_agent.core.realtime.protocol import BYTES_PER_MS

KEEP_MS = 30_000
"""The longest utterance the kiosk can replay: older audio is forgotten."""


class SentAudio:
    """Bytes appended with `input_audio_buffer.append`, on the server's audio timeline
    (milliseconds since the connection opened, as in `audio_start_ms` / `audio_end_ms`)."""

    def __init__(self, keep_ms: int = KEEP_MS) -> None:
        self._keep = keep_ms * BYTES_PER_MS
        self._buffer = bytearray()
        self._start = 0
        """Timeline position (bytes) of ``_buffer[0]``."""

    def reset(self) -> None:
        """A new connection: its timeline starts at 0."""
        self._buffer.clear()
        self._start = 0

    def add(self, pcm: bytes) -> None:
        self._buffer += pcm
        excess = len(self._buffer) - self._keep
        if excess > self._keep // 2:  # trim in large steps: appends stay cheap
            del self._buffer[:excess]
            self._start += excess

    def between(self, start_ms: int, end_ms: int) -> bytes:
        """The audio sent between two timeline positions (what is still kept of it)."""
        start = max(0, start_ms * BYTES_PER_MS - self._start)
        end = max(0, end_ms * BYTES_PER_MS - self._start)
        return bytes(self._buffer[start:end])
