"""systemd notifications (``sd_notify``), written by hand over the NOTIFY_SOCKET protocol.

The protocol is one datagram per notification on the AF_UNIX socket named by
``$NOTIFY_SOCKET`` (a path, or an abstract name written with a leading ``@``), holding
newline-separated ``KEY=VALUE`` assignments: ``READY=1``, ``WATCHDOG=1``, ``STATUS=...``,
``STOPPING=1``. That is all ``Type=notify`` and ``WatchdogSec=`` need, so the kiosk does not
depend on libsystemd or a binding. Outside systemd (no ``$NOTIFY_SOCKET``) every call does
nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Mapping

logger = logging.getLogger(__name__)


class SystemdNotifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self._address: str | None = None
        if address.startswith("@"):
            self._address = "\0" + address[1:]
        elif address.startswith("/"):
            self._address = address
        self._watchdog_s = _watchdog_interval(env)
        self._socket: socket.socket | None = None
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self._address is not None

    @property
    def watchdog_s(self) -> float | None:
        """systemd's watchdog timeout in seconds when it expects pings from this process."""
        return self._watchdog_s

    def notify(self, **assignments: str) -> bool:
        """Send ``KEY=VALUE`` lines (keys upper-cased); False when not sent."""
        if self._address is None:
            return False
        lines = []
        for key, value in assignments.items():
            flat = " ".join(str(value).split())  # one line per assignment
            lines.append(f"{key.upper()}={flat}")
        message = "\n".join(lines).encode()
        try:
            if self._socket is None:
                self._socket = socket.socket(
                    socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                )
            self._socket.sendto(message, self._address)
        except OSError as exc:
            self.close()
            if not self._warned:
                logger.warning("cannot notify systemd on $NOTIFY_SOCKET: %s", exc)
                self._warned = True
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.notify(ready="1", status=status)

    def status(self, status: str) -> bool:
        return self.notify(status=status)

    def watchdog(self) -> bool:
        return self.notify(watchdog="1")

    def stopping(self, status: str) -> bool:
        return self.notify(stopping="1", status=status)

    def close(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
            self._socket = None


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    usec = env.get("WATCHDOG_USEC")
    if not usec:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None  # meant for another process (e.g. a wrapper script's parent)
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 1_000_000 if value > 0 else None
