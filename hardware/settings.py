"""Settings for the kiosk's hardware, one frozen section per device, each field with its unit.

These are plain pydantic models so the kiosk's pydantic-settings class can nest them (or copy
their fields) and a test can build one in a line. Nothing here opens a device.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from contract.badge import BadgeRules


class ReaderKind(StrEnum):
    """Which kind of badge reader the kiosk has."""

    EVDEV = "evdev"
    """A USB keyboard-wedge reader: types the badge id and Enter."""
    PCSC = "pcsc"
    """A PC/SC contactless reader (ACR122U, ACR1252U, HID Omnikey...) through pcscd."""
    SIMULATED = "simulated"
    """Badges typed on standard input, written to a named pipe or posted over local HTTP."""


class KeyLayout(StrEnum):
    """The keyboard layout a keyboard-wedge reader was configured to type for."""

    US = "us"
    """QWERTY, how readers ship: digits on the unshifted number row."""
    FR = "fr"
    """AZERTY: digits need Shift, A and Q are swapped."""


class WedgeReaderSettings(BaseModel):
    """A keyboard-wedge (USB HID) reader read through evdev."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    device_path: Path | None = Field(
        default=None,
        description=(
            "Stable device path, e.g. /dev/input/by-id/usb-Sycreader_RFID-event-kbd. "
            "Preferred: it survives reboots and other USB devices."
        ),
    )
    device_name: str | None = Field(
        default=None,
        description="Case-insensitive part of the evdev device name, when no path is set.",
    )
    usb_id: str | None = Field(
        default=None,
        pattern=r"^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$",
        description="USB vendor:product in hex as lsusb prints it (e.g. 08ff:0009).",
    )
    layout: KeyLayout = Field(default=KeyLayout.US, description="Layout the reader types for.")
    inter_key_timeout_s: float = Field(
        default=0.2,
        gt=0,
        description="Seconds: a longer gap between keys drops the partial id (readers type "
        "a whole id in a few tens of milliseconds, people do not).",
    )
    grab: bool = Field(
        default=True,
        description="Take the reader exclusively so badge digits never reach a console.",
    )


class PcscReaderSettings(BaseModel):
    """A PC/SC reader through pcscd and pyscard."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reader_name: str | None = Field(
        default=None,
        description="Case-insensitive part of the PC/SC reader name; unset means any reader.",
    )
    poll_interval_s: float = Field(
        default=0.25, gt=0, description="Seconds between looks for a card on each reader."
    )


class SimulatedReaderSettings(BaseModel):
    """Where the simulated reader takes badges from; any combination may be on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stdin: bool = Field(default=True, description="Read one badge per line of standard input.")
    pipe_path: Path | None = Field(
        default=None,
        description="Named pipe (created if missing) read one badge per line: "
        "`echo 04A23B12 > PATH`.",
    )
    http_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Port for `POST /badge` (0 picks a free port); unset means no HTTP.",
    )
    http_host: str = Field(
        default="127.0.0.1",
        description="Address the HTTP endpoint listens on; keep it on loopback.",
    )


class BadgeReaderSettings(BaseModel):
    """The kiosk's badge reader: which kind, how its ids are written, and its timings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ReaderKind = Field(default=ReaderKind.SIMULATED, description="Reader kind.")
    rules: BadgeRules = Field(
        default_factory=BadgeRules,
        description="How this reader writes badge ids (see contract.badge).",
    )
    reopen_initial_s: float = Field(
        default=0.5,
        gt=0,
        description="Seconds before the first attempt to reopen a reader (then doubling, with "
        "jitter).",
    )
    reopen_max_s: float = Field(
        default=30.0, gt=0, description="Seconds: the longest wait between reopen attempts."
    )
    evdev: WedgeReaderSettings = Field(
        default_factory=WedgeReaderSettings, description="Used when kind is evdev."
    )
    pcsc: PcscReaderSettings = Field(
        default_factory=PcscReaderSettings, description="Used when kind is pcsc."
    )
    simulated: SimulatedReaderSettings = Field(
        default_factory=SimulatedReaderSettings, description="Used when kind is simulated."
    )


class AudioBackend(StrEnum):
    """Where the kiosk's sound comes from and goes to."""

    SOUNDDEVICE = "sounddevice"
    """Sound cards through PortAudio."""
    FILE = "file"
    """A WAV file as the microphone; a WAV file, or nothing, as the speaker."""


class EchoMode(StrEnum):
    """How the kiosk keeps the assistant from hearing itself (see hardware.audio.echo)."""

    GATE = "gate"
    """Send silence instead of the microphone while playing and for a tail after."""
    OPEN = "open"
    """Always send the microphone: only with an echo-cancelling device."""


class ResampleQuality(StrEnum):
    """soxr's quality recipes; see hardware.audio.resample for the measured trade-off."""

    LQ = "LQ"
    MQ = "MQ"
    HQ = "HQ"
    VHQ = "VHQ"


class AudioSettings(BaseModel):
    """The kiosk's microphone and speaker, and the audio path between them and the stream."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: AudioBackend = Field(
        default=AudioBackend.SOUNDDEVICE, description="Sound cards, or WAV files (simulation)."
    )
    input_device: str | None = Field(
        default=None,
        description="Part of the microphone's name as `python -m sounddevice` lists it; "
        "unset means the system default.",
    )
    output_device: str | None = Field(
        default=None, description="Part of the speaker's name; unset means the default."
    )
    device_rate_hz: int = Field(
        default=48_000,
        ge=8_000,
        le=192_000,
        description="Hz: the rate the sound card runs at (48000, 44100, 16000...).",
    )
    block_ms: int = Field(
        default=20, ge=5, le=100, description="Milliseconds of audio per device callback."
    )
    device_latency_s: float | None = Field(
        default=None,
        gt=0,
        description="Seconds of buffering asked of PortAudio; unset means its safe 'high'.",
    )
    echo_mode: EchoMode = Field(
        default=EchoMode.GATE,
        description="gate: mute the microphone while speaking (no voice barge-in); open: "
        "only with an echo-cancelling microphone.",
    )
    echo_tail_ms: int = Field(
        default=300,
        ge=0,
        description="Milliseconds the microphone stays gated after the kiosk stops speaking.",
    )
    capture_quality: ResampleQuality = Field(
        default=ResampleQuality.LQ,
        description="soxr recipe for the microphone: LQ gives each block's samples at once "
        "and is flat to 9 kHz.",
    )
    playback_quality: ResampleQuality = Field(
        default=ResampleQuality.HQ, description="soxr recipe for the speaker."
    )
    capture_buffer_ms: int = Field(
        default=3000,
        ge=100,
        description="Milliseconds of microphone audio held for the event loop to pick up: "
        "a loop stalled for less loses nothing (frames arrive late instead).",
    )
    frame_queue_ms: int = Field(
        default=1000,
        ge=20,
        description="Milliseconds of frames (one per device block) kept while nobody reads "
        "them (older ones are dropped).",
    )
    playback_buffer_s: float = Field(
        default=120.0,
        ge=1.0,
        description="Seconds of answer audio queued in the ring (more waits in a backlog).",
    )
    playback_prebuffer_ms: int = Field(
        default=60,
        ge=0,
        description="Milliseconds an answer's first audio waits before it plays (less when "
        "plenty is queued), absorbing network jitter; the floor of the adaptive delay.",
    )
    playback_prebuffer_max_ms: int = Field(
        default=300,
        ge=0,
        description="Milliseconds the playout delay may grow to after underruns inside answers "
        "(it shrinks back when deliveries run ahead).",
    )
    input_wav: Path | None = Field(
        default=None, description="File backend: the WAV file used as the microphone."
    )
    output_wav: Path | None = Field(
        default=None,
        description="File backend: WAV file recording what is played; unset plays to nothing.",
    )
    file_speed: float = Field(
        default=1.0, gt=0, description="File backend: 1.0 is real time, 2.0 twice as fast."
    )
    file_loop: bool = Field(default=False, description="File backend: repeat the input WAV.")
