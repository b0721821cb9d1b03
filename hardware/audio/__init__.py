"""The kiosk's audio path: microphone to 24 kHz frames (one per device block), answer audio to
the speaker.

Start with :func:`open_audio` and :class:`AudioIO`; the pieces (ring, resampler, capture and
playback paths, echo policy, level meter, devices) are separate modules, each with one job.
"""

from hardware.audio.audio_io import AudioIO, AudioStats, open_audio
from hardware.audio.capture import FRAME_MS, CapturedFrame
from hardware.audio.devices import AudioDeviceError
from hardware.audio.level import LevelReading
from hardware.audio.playback import STREAM_RATE

__all__ = [
    "FRAME_MS",
    "STREAM_RATE",
    "AudioDeviceError",
    "AudioIO",
    "AudioStats",
    "CapturedFrame",
    "LevelReading",
    "open_audio",
]
