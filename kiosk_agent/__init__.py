"""The JARVIS kiosk agent: the program that runs unattended at a gym's entrance.

``core`` decides (sans-I/O: the kiosk state machine, the outbox policy, heartbeats),
``adapters`` move bytes (SQLite store, cloud client, systemd notifications, announcements),
``app`` wires them together and ``cli`` is the ``jarvis-kiosk`` command.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def _version() -> str:
    try:
        return version("jarvis-kiosk-platform")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+source"


__version__ = _version()
