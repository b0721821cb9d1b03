"""sd_notify over a real AF_UNIX datagram socket, as systemd receives it."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk_agent.adapters.systemd import SystemdNotifier


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    yield path, sock
    sock.close()


def test_ready_status_watchdog_and_stopping_arrive_as_datagrams(
    listener: tuple[str, socket.socket],
) -> None:
    path, sock = listener
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path})
    assert notifier.enabled
    assert notifier.ready("idle: waiting\nfor a badge")
    assert sock.recv(4096) == b"READY=1\nSTATUS=idle: waiting for a badge"
    assert notifier.watchdog()
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert notifier.stopping("bye")
    assert sock.recv(4096) == b"STOPPING=1\nSTATUS=bye"
    notifier.close()


def test_an_abstract_socket_name_is_understood() -> None:
    name = f"jarvis-kiosk-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    try:
        notifier = SystemdNotifier({"NOTIFY_SOCKET": "@" + name})
        assert notifier.status("offline")
        assert sock.recv(4096) == b"STATUS=offline"
        notifier.close()
    finally:
        sock.close()


def test_outside_systemd_nothing_is_sent() -> None:
    notifier = SystemdNotifier({})
    assert not notifier.enabled
    assert not notifier.ready("idle")
    assert notifier.watchdog_s is None


def test_the_watchdog_interval_comes_from_systemd_and_only_for_this_process() -> None:
    mine = {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}
    assert SystemdNotifier(mine).watchdog_s == 30.0
    assert SystemdNotifier({"WATCHDOG_USEC": "30000000"}).watchdog_s == 30.0
    assert SystemdNotifier({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}).watchdog_s is None
    assert SystemdNotifier({"WATCHDOG_USEC": "nonsense"}).watchdog_s is None


def test_a_vanished_socket_is_reported_once_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert not notifier.status("a")
    assert not notifier.status("b")
    assert len([r for r in caplog.records if "NOTIFY_SOCKET" in r.getMessage()]) == 1
