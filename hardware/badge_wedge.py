"""Keyboard-wedge badge reader adapter: finds the evdev device, grabs it, feeds the decoder.

All decoding is in :mod:`hardware.wedge_decoder` and reopening in the readers' supervision
loop (:class:`hardware.badge_reader.QueuedBadgeReader`); this file only opens and reads the
device, and turns what goes wrong into messages saying what to do.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import os
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Protocol

import evdev

from contract.badge import BadgeIdError, normalize_badge_id
from hardware.badge_health import DropCounts, ReaderState
from hardware.badge_reader import (
    BadgeReaderError,
    QueuedBadgeReader,
    ReaderUnavailable,
    Sleep,
)
from hardware.settings import BadgeReaderSettings, KeyLayout, WedgeReaderSettings
from hardware.wedge_decoder import InputEventLike, TypedBadge, WedgeDecoder, type_keys

logger = logging.getLogger(__name__)

INPUT_GROUP_HINT = (
    "add the kiosk's user to the `input` group (`sudo usermod -aG input $USER`, then log in "
    "again) or install the udev rule from docs/HARDWARE.md"
)


class InputDeviceLike(Protocol):
    """The part of ``evdev.InputDevice`` the adapter uses."""

    @property
    def path(self) -> str | bytes: ...

    @property
    def name(self) -> str: ...

    @property
    def info(self) -> evdev.DeviceInfo: ...

    def grab(self) -> None: ...

    def close(self) -> None: ...

    def async_read_loop(self) -> AsyncIterator[InputEventLike]: ...


OpenDevice = Callable[[str], InputDeviceLike]


def _open_readonly(path: str) -> InputDeviceLike:
    # Reading and grabbing need only read access, so the `input` group is enough.
    return evdev.InputDevice(path, readonly=True)


def _readable_devices() -> list[str]:
    return sorted(evdev.list_devices(writable=False))


class WedgeBadgeReader(QueuedBadgeReader):
    """Badges from a USB keyboard-wedge reader, reopened with backoff after unplugging."""

    def __init__(
        self,
        settings: BadgeReaderSettings,
        *,
        open_device: OpenDevice = _open_readonly,
        list_devices: Callable[[], list[str]] = _readable_devices,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        wedge = settings.evdev
        if wedge.device_path is None and wedge.device_name is None and wedge.usb_id is None:
            raise BadgeReaderError(
                "no keyboard-wedge reader configured: set its device path (list them with "
                "`ls -l /dev/input/by-id/*-event-kbd`), or its name or USB id"
            )
        super().__init__(_describe(wedge), settings, sleep=sleep, rng=rng)
        self._wedge = wedge
        self._open_device = open_device
        self._list_devices = list_devices
        self.decoder = WedgeDecoder(
            layout=wedge.layout, inter_key_timeout_s=wedge.inter_key_timeout_s
        )

    def _drops(self) -> DropCounts:
        return self.decoder.drops

    async def _attach(self) -> None:
        device = self._open()
        self._connected()
        path = os.fsdecode(device.path)
        self._set_state(ReaderState.READY, f"reading {path} ({device.name})")
        try:
            async for event in device.async_read_loop():
                typed = self.decoder.feed(event)
                if typed is not None:
                    self._offer(typed.text, hint=functools.partial(self._layout_hint, typed))
            # The read loop only ends when the device does.
            raise OSError(errno.ENODEV, "end of events")
        except OSError as exc:
            self.decoder.device_lost()
            raise ReaderUnavailable(
                f"{path} went away ({exc.strerror or exc}): unplugged or a USB reset; reopening"
            ) from exc
        finally:
            _close_quietly(device)

    def _open(self) -> InputDeviceLike:
        path = self._find()
        try:
            device = self._open_device(path)
        except PermissionError as exc:
            raise ReaderUnavailable(
                f"cannot read {path}: permission denied; {INPUT_GROUP_HINT}"
            ) from exc
        except FileNotFoundError as exc:
            raise ReaderUnavailable(f"{path} disappeared while opening it; retrying") from exc
        if self._wedge.grab:
            try:
                device.grab()
            except OSError as exc:
                _close_quietly(device)
                if exc.errno == errno.EBUSY:
                    raise ReaderUnavailable(
                        f"{path} is grabbed by another program (a second kiosk agent?): stop "
                        "it, or set grab to false"
                    ) from exc
                raise ReaderUnavailable(f"cannot grab {path}: {exc.strerror}") from exc
        return device

    def _find(self) -> str:
        configured = self._wedge.device_path
        if configured is not None:
            if not configured.exists():
                raise ReaderUnavailable(
                    f"no reader at {configured}: plug it in, or check the path with "
                    "`ls -l /dev/input/by-id/`"
                )
            return str(configured)
        candidates = self._list_devices()
        for path in candidates:
            try:
                device = self._open_device(path)
            except OSError:
                continue  # vanished or not ours to read: not the reader we look for
            try:
                if self._matches(device):
                    return path
            finally:
                device.close()
        if not candidates and Path("/dev/input").is_dir():
            hint = f"no input device is readable: {INPUT_GROUP_HINT}"
        else:
            hint = "plug it in, or list devices with `python -m evdev.evtest`"
        raise ReaderUnavailable(f"no input device matches {self._description}; {hint}")

    def _matches(self, device: InputDeviceLike) -> bool:
        wedge = self._wedge
        if wedge.device_name is not None and wedge.device_name.lower() not in device.name.lower():
            return False
        if wedge.usb_id is not None:
            vendor, product = (int(part, 16) for part in wedge.usb_id.split(":"))
            if (device.info.vendor, device.info.product) != (vendor, product):
                return False
        return True

    def _layout_hint(self, typed: TypedBadge) -> str:
        """Suggest the reader's layout when the keys make a valid badge under another one."""
        for layout in KeyLayout:
            if layout is self._wedge.layout:
                continue
            try:
                normalize_badge_id(type_keys(typed.keys, layout), self.rules)
            except BadgeIdError:
                continue
            return (
                f" (the keys read as a valid badge with the {layout.value!r} layout: "
                f"the reader seems set up for it; set the reader's layout to {layout.value!r})"
            )
        return ""


def _describe(wedge: WedgeReaderSettings) -> str:
    if wedge.device_path is not None:
        return f"evdev:{wedge.device_path}"
    parts = []
    if wedge.device_name is not None:
        parts.append(f"name~{wedge.device_name!r}")
    if wedge.usb_id is not None:
        parts.append(f"usb {wedge.usb_id}")
    return f"evdev:{' '.join(parts)}"


def _close_quietly(device: InputDeviceLike) -> None:
    try:
        device.close()
    except OSError as exc:
        # Closing an unplugged device can fail; the file descriptor is gone either way.
        logger.debug("closing %s: %s", os.fsdecode(device.path), exc)
