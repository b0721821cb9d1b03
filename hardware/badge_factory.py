"""The badge reader the settings describe: the one module that knows every reader kind."""

from __future__ import annotations

from hardware.badge_reader import QueuedBadgeReader
from hardware.settings import BadgeReaderSettings, ReaderKind


def open_badge_reader(settings: BadgeReaderSettings) -> QueuedBadgeReader:
    """The reader the settings describe, not yet open (use ``async with``)."""
    # Imported here so a kiosk with one kind of reader never imports the others' libraries
    # (evdev, pyscard).
    if settings.kind is ReaderKind.EVDEV:
        from hardware.badge_wedge import WedgeBadgeReader

        return WedgeBadgeReader(settings)
    if settings.kind is ReaderKind.PCSC:
        from hardware.badge_pcsc import PcscBadgeReader

        return PcscBadgeReader(settings)
    from hardware.badge_sim import SimulatedBadgeReader

    return SimulatedBadgeReader(settings)
