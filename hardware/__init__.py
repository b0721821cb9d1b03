"""The kiosk's senses: badge readers, the audio path and system information.

Cores that decide (badge decoding and normalization, ring buffers, resampling, playback
accounting, echo policy) never open a device; the adapters around them (evdev, pyscard,
sounddevice, WAV files) are thin and fail with messages that say what to do. Import the
submodule you need: ``hardware.badge_factory`` for badges, ``hardware.audio`` for sound,
``hardware.sysinfo`` for the device id and health figures.
"""
