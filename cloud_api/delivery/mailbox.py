"""A local mailbox for the demo: an SMTP server on 127.0.0.1 (aiosmtpd) that writes every
message it receives to a `.eml` file a newcomer can open (any mail client, or a text editor).
"""

from __future__ import annotations

import itertools
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope


@dataclass
class _Writer:
    folder: Path
    _count: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{next(self._count):04d}.eml"
        data = envelope.original_content or b""
        (self.folder / name).write_bytes(data if isinstance(data, bytes) else data.encode())
        return "250 Message accepted for delivery"


class LocalMailbox:
    """Start with `start()`, stop with `stop()`; `port` is where to point JARVIS_SMTP_PORT."""

    def __init__(self, folder: Path, port: int = 0) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        # aiosmtpd checks it is up by connecting to its port, so it needs a real one.
        self._controller = Controller(
            _Writer(folder), hostname="127.0.0.1", port=port or _free_port()
        )

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
