"""The kiosk agent's view of sound: 20 ms frames to send, answer audio to play.

Usage::

    async with open_audio(settings.audio) as audio:
        async for frame in audio.frames():        # 24 kHz PCM16 mono, 20 ms each
            await session.append(frame.pcm)
        ...
        audio.play(item_id, pcm_chunk)             # 24 kHz PCM16 from the Realtime API
        audio.finish_item(item_id)
        await audio.flush()                        # barge-in: silence within one block
        audio.played_ms(item_id)                   # what to truncate the item at

Device callbacks only copy (see capture.py and playback_buffer.py) and poke an eventfd;
the event loop does the rest when it wakes on that descriptor.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from hardware.audio.capture import FRAME_MS, Audibility, CapturedFrame, CapturePath
from hardware.audio.devices import (
    AudioDeviceError,
    AudioInput,
    AudioOutput,
    SoundDeviceInput,
    SoundDeviceOutput,
)
from hardware.audio.echo import EchoPolicy
from hardware.audio.files import NullOutput, WavFileInput, WavFileOutput, block_frames
from hardware.audio.level import LevelReading
from hardware.audio.playback import PlaybackPath
from hardware.audio.ring import Samples
from hardware.audio.wakeup import Wakeup
from hardware.settings import AudioBackend, AudioSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AudioStats:
    """Counters for heartbeats, `doctor` and the benchmark."""

    input_overflows: int
    """Microphone blocks lost: reported by the device, or not fitting the capture ring."""
    output_underruns: int
    """Speaker blocks starved while audio was expected: by the device, or an empty buffer."""
    frames_captured: int
    frames_muted: int
    """Frames replaced by silence by the echo gate."""
    frames_dropped: int
    """Frames nobody read in time (between sessions, this is normal)."""
    playback_queued_ms: int
    playing: bool


class AudioIO:
    """Microphone and speaker around the capture and playback paths."""

    def __init__(
        self,
        settings: AudioSettings,
        audio_in: AudioInput | None,
        audio_out: AudioOutput | None,
    ) -> None:
        self._settings = settings
        self._in = audio_in
        self._out = audio_out
        echo = EchoPolicy(mode=settings.echo_mode, tail_s=settings.echo_tail_ms / 1000)
        self.capture: CapturePath | None = None
        self.playback: PlaybackPath | None = None
        if audio_in is not None:
            rate = audio_in.sample_rate
            self.capture = CapturePath(
                rate, rate * settings.capture_buffer_ms // 1000, echo, settings.capture_quality
            )
        if audio_out is not None:
            rate = audio_out.sample_rate
            self.playback = PlaybackPath(
                rate,
                capacity=int(rate * settings.playback_buffer_s),
                prebuffer=rate * settings.playback_prebuffer_ms // 1000,
                quality=settings.playback_quality,
                prebuffer_max=rate * settings.playback_prebuffer_max_ms // 1000,
            )
            self.playback.buffer.stretch_gap = echo.tail_s
        self._frames: deque[CapturedFrame] = deque()
        self._frame_limit = max(1, settings.frame_queue_ms // FRAME_MS)
        self._frames_ready = asyncio.Event()
        self._flush_seen = asyncio.Event()
        self._frames_captured = 0
        self._frames_dropped = 0
        self._wakeup: Wakeup | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running = False

    # ----------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Open the devices; their callbacks start at once."""
        if self._running:
            raise RuntimeError("audio already started")
        self._loop = asyncio.get_running_loop()
        self._wakeup = Wakeup()
        self._loop.add_reader(self._wakeup.fileno, self._on_wakeup)
        self._running = True
        try:
            if self._out is not None:
                self._out.start(self._on_output)
            if self._in is not None:
                self._in.start(self._on_input)
        except BaseException:
            await self.stop()
            raise
        logger.info(
            "audio started: %s; %s",
            self._in.description if self._in else "no microphone",
            self._out.description if self._out else "no speaker",
        )

    async def stop(self) -> None:
        """Close the devices (their threads are joined); ``frames()`` ends."""
        self._running = False
        self._frames_ready.set()
        for device in (self._in, self._out):
            if device is not None:
                await asyncio.to_thread(device.stop)
        if self._wakeup is not None and self._loop is not None:
            self._loop.remove_reader(self._wakeup.fileno)
            self._wakeup.close()
            self._wakeup = None

    # ----------------------------------------------------------------- microphone

    async def frames(self) -> AsyncIterator[CapturedFrame]:
        """20 ms frames of 24 kHz PCM16 from now on (older, unread frames are dropped).

        The iteration ends when the audio is stopped.
        """
        if self.capture is None:
            raise AudioDeviceError("this audio has no microphone")
        self._frames_dropped += len(self._frames)
        self._frames.clear()
        while self._running:
            while self._frames:
                yield self._frames.popleft()
            self._frames_ready.clear()
            await self._frames_ready.wait()

    def level(self) -> LevelReading:
        """Microphone level since the previous call (for `doctor`)."""
        if self.capture is None:
            raise AudioDeviceError("this audio has no microphone")
        return self.capture.meter.reading()

    # ----------------------------------------------------------------- speaker

    def play(self, item_id: str, pcm: bytes) -> bool:
        """Queue 24 kHz PCM16 of a response item; False if the item was cut by a flush."""
        playback = self._require_playback()
        return playback.play(item_id, pcm)

    def finish_item(self, item_id: str) -> None:
        """The item's audio is complete (``response.output_audio.done``)."""
        self._require_playback().finish_item(item_id)

    async def flush(self) -> None:
        """Stop playing now: returns once the speaker plays silence (within one block)."""
        playback = self._require_playback()
        self._flush_seen.clear()
        playback.flush()
        if not self._running:
            return
        out = self._out
        assert out is not None
        # The output callback pokes the loop when it applies the flush; allow a few blocks
        # in case the device stalls, then give up waiting rather than hang a barge-in.
        patience = 10 * self._settings.block_ms / 1000 + 0.5
        try:
            async with asyncio.timeout(patience):
                while playback.buffer.flush_pending:
                    await self._flush_seen.wait()
                    self._flush_seen.clear()
        except TimeoutError:
            logger.warning(
                "%s did not call back within %.1f s of a flush", out.description, patience
            )

    def played_ms(self, item_id: str) -> int:
        """Milliseconds of the item the speaker has been given (for ``conversation.item.
        truncate``'s ``audio_end_ms``)."""
        return self._require_playback().played_ms(item_id)

    @property
    def playing(self) -> bool:
        return self.playback is not None and self.playback.buffer.queued > 0

    def stats(self) -> AudioStats:
        capture, playback = self.capture, self.playback
        queued = playback.buffer.queued if playback else 0
        return AudioStats(
            input_overflows=(capture.overflows if capture else 0)
            + (self._in.overflows if self._in else 0),
            output_underruns=(playback.buffer.underruns if playback else 0)
            + (self._out.underruns if self._out else 0),
            frames_captured=self._frames_captured,
            frames_muted=capture.muted_frames if capture else 0,
            frames_dropped=self._frames_dropped,
            playback_queued_ms=queued * 1000 // playback.device_rate if playback else 0,
            playing=queued > 0,
        )

    # ----------------------------------------------------------------- callbacks

    def _on_input(self, block: Samples, now: float) -> None:
        """Device thread: copy, then wake the loop."""
        capture, wakeup = self.capture, self._wakeup
        if capture is not None and wakeup is not None:
            capture.on_input(block, now)
            wakeup.notify()

    def _on_output(self, out: Samples, now: float) -> None:
        """Device thread: fill the block; wake the loop if it waits on a flush or backlog."""
        playback, wakeup = self.playback, self._wakeup
        if playback is None or wakeup is None:
            out.fill(0)
            return
        buffer = playback.buffer
        flushing = buffer.flush_pending
        buffer.read_into(out, now)
        if flushing or buffer.backlogged:
            wakeup.notify()

    def _on_wakeup(self) -> None:
        """Event loop: drain the microphone, top up the speaker, note applied flushes."""
        if self._wakeup is None:
            return
        self._wakeup.consume()
        if self.capture is not None:
            buffer = self.playback.buffer if self.playback else None
            audibility = Audibility(
                since=buffer.audible_since if buffer else float("-inf"),
                last=buffer.last_audible_at if buffer else float("-inf"),
            )
            made = self.capture.drain(audibility)
            if made:
                self._frames_captured += len(made)
                self._frames.extend(made)
                overflow = len(self._frames) - self._frame_limit
                for _ in range(max(0, overflow)):
                    self._frames.popleft()
                    self._frames_dropped += 1
                self._frames_ready.set()
        if self.playback is not None:
            self.playback.buffer.pump()
            if not self.playback.buffer.flush_pending:
                self._flush_seen.set()

    def _require_playback(self) -> PlaybackPath:
        if self.playback is None:
            raise AudioDeviceError("this audio has no speaker")
        return self.playback


def open_audio(
    settings: AudioSettings, *, microphone: bool = True, speaker: bool = True
) -> AudioIO:
    """The audio the settings describe, not yet started (use ``async with``)."""
    audio_in: AudioInput | None = None
    audio_out: AudioOutput | None = None
    rate, block_ms = settings.device_rate_hz, settings.block_ms
    if settings.backend is AudioBackend.SOUNDDEVICE:
        block = block_frames(rate, block_ms)
        if microphone:
            audio_in = SoundDeviceInput(
                settings.input_device, rate, block, settings.device_latency_s
            )
        if speaker:
            audio_out = SoundDeviceOutput(
                settings.output_device, rate, block, settings.device_latency_s
            )
    else:
        if microphone:
            if settings.input_wav is None:
                raise AudioDeviceError(
                    "the file audio backend needs an input WAV file (set input_wav), or open "
                    "it without a microphone"
                )
            audio_in = WavFileInput(
                settings.input_wav, block_ms, speed=settings.file_speed, loop=settings.file_loop
            )
        if speaker:
            if settings.output_wav is None:
                audio_out = NullOutput(rate, block_ms, speed=settings.file_speed)
            else:
                audio_out = WavFileOutput(
                    settings.output_wav, rate, block_ms, speed=settings.file_speed
                )
    return AudioIO(settings, audio_in, audio_out)
