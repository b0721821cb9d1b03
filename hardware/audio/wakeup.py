"""Waking the event loop from an audio callback without allocating, locking or waiting.

``loop.call_soon_threadsafe`` would allocate a handle per block; instead the callback adds
one to an eventfd (a pipe where there is none), and the loop watches that file descriptor.
"""

from __future__ import annotations

import contextlib
import os


class Wakeup:
    """A file descriptor that becomes readable when :meth:`notify` is called."""

    def __init__(self) -> None:
        if hasattr(os, "eventfd"):
            self._read_fd = self._write_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            self._eventfd = True
        else:  # macOS development machines
            self._read_fd, self._write_fd = os.pipe()
            os.set_blocking(self._read_fd, False)
            os.set_blocking(self._write_fd, False)
            self._eventfd = False

    @property
    def fileno(self) -> int:
        return self._read_fd

    def notify(self) -> None:
        """From any thread: make the descriptor readable."""
        if self._eventfd:
            os.eventfd_write(self._write_fd, 1)
        else:
            # A full pipe already has a wake-up pending.
            with contextlib.suppress(BlockingIOError):
                os.write(self._write_fd, b"\x01")

    def consume(self) -> None:
        """In the loop: clear pending notifications."""
        with contextlib.suppress(BlockingIOError):
            if self._eventfd:
                os.eventfd_read(self._read_fd)
            else:
                while os.read(self._read_fd, 4096):
                    pass

    def close(self) -> None:
        os.close(self._read_fd)
        if self._write_fd != self._read_fd:
            os.close(self._write_fd)
