"""PC/SC badge reader adapter: polls pcscd through pyscard and feeds the presence core.

pyscard's calls block, so each scan runs in a worker thread. pyscard's exceptions are
translated here into the three outcomes the kiosk cares about: no service (pcscd is not
running), no reader, and a card that could not be read, each with what to do about it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from smartcard.Exceptions import (
    CardConnectionException,
    CardServiceNotFoundException,
    CardServiceStoppedException,
    NoCardException,
    SmartcardException,
)
from smartcard.pcsc.PCSCExceptions import BaseSCardException
from smartcard.scard import (
    SCARD_E_NO_SERVICE,
    SCARD_E_READER_UNAVAILABLE,
    SCARD_E_SERVICE_STOPPED,
    SCARD_E_UNKNOWN_READER,
    SCARD_W_REMOVED_CARD,
)
from smartcard.System import readers as pcsc_readers

from hardware.badge_health import ReaderState
from hardware.badge_reader import QueuedBadgeReader, ReaderUnavailable, Sleep
from hardware.pcsc_presence import (
    GET_UID_APDU,
    SW_SUCCESS,
    CardAbsent,
    CardPresence,
    CardPresented,
    CardRejected,
    CardScan,
    CardUid,
    CardUnreadable,
    ReaderAdded,
    ReaderRemoved,
    status_word_problem,
)
from hardware.settings import BadgeReaderSettings

logger = logging.getLogger(__name__)

PCSCD_MISSING = (
    "pcscd is not running: start it with `sudo systemctl start pcscd` (and "
    "`sudo systemctl enable pcscd` so it starts at boot)"
)
NO_READER = (
    "no PC/SC reader connected: plug it in; an ACR122U that stays invisible is held by the "
    "kernel's NFC driver: blacklist the pn533 modules (see docs/HARDWARE.md)"
)

_SERVICE_DOWN = {SCARD_E_NO_SERVICE & 0xFFFFFFFF, SCARD_E_SERVICE_STOPPED & 0xFFFFFFFF}
_READER_GONE = {SCARD_E_UNKNOWN_READER & 0xFFFFFFFF, SCARD_E_READER_UNAVAILABLE & 0xFFFFFFFF}
_CARD_GONE = SCARD_W_REMOVED_CARD & 0xFFFFFFFF


class CardConnectionLike(Protocol):
    """The part of pyscard's card connection the adapter uses."""

    def connect(self) -> None: ...

    def transmit(self, command: list[int]) -> tuple[list[int], int, int]: ...

    def disconnect(self) -> None: ...

    def release(self) -> None: ...


class PcscReaderLike(Protocol):
    """The part of pyscard's reader the adapter uses."""

    name: str

    def createConnection(self) -> CardConnectionLike: ...


class PcscUnavailable(ReaderUnavailable):
    """PC/SC cannot be used now; the message says what to do."""


def _hresult(exc: BaseException) -> int:
    return int(getattr(exc, "hresult", -1)) & 0xFFFFFFFF


class _ReaderGone(Exception):
    """The reader vanished between listing it and talking to it."""


class PcscBadgeReader(QueuedBadgeReader):
    """Badges from PC/SC readers: one tap per card arrival, UID kept whole."""

    def __init__(
        self,
        settings: BadgeReaderSettings,
        *,
        list_readers: Callable[[], Sequence[Any]] = pcsc_readers,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        name = settings.pcsc.reader_name
        description = f"pcsc:{name}" if name else "pcsc:any reader"
        super().__init__(description, settings, sleep=sleep, rng=rng)
        self._settings = settings
        self._list_readers = list_readers
        self.presence = CardPresence()

    async def _attach(self) -> None:
        poll = self._settings.pcsc.poll_interval_s
        while True:
            try:
                scan = await asyncio.to_thread(self.scan)
            except PcscUnavailable:
                self._handle(self.presence.reset())
                raise
            self._connected()
            self._handle(self.presence.update(scan))
            if scan:
                self._set_state(ReaderState.READY, f"watching {', '.join(sorted(scan))}")
            else:
                self._set_state(ReaderState.UNAVAILABLE, NO_READER)
            await self._sleep(poll)

    def scan(self) -> dict[str, CardScan]:
        """What is on each matching reader now (blocking: pyscard talks to pcscd)."""
        try:
            readers = self._list_readers()
        except (CardServiceNotFoundException, CardServiceStoppedException) as exc:
            raise PcscUnavailable(PCSCD_MISSING) from exc
        except (BaseSCardException, SmartcardException) as exc:
            if _hresult(exc) in _SERVICE_DOWN:
                raise PcscUnavailable(PCSCD_MISSING) from exc
            raise PcscUnavailable(f"cannot list PC/SC readers: {exc}") from exc
        wanted = self._settings.pcsc.reader_name
        result: dict[str, CardScan] = {}
        for reader in readers:
            name = str(reader.name)
            if wanted is not None and wanted.lower() not in name.lower():
                continue
            try:
                result[name] = self._read_card(reader)
            except _ReaderGone:
                continue
        return result

    def _read_card(self, reader: PcscReaderLike) -> CardScan:
        try:
            connection = reader.createConnection()
        except CardConnectionException as exc:
            if _hresult(exc) in _SERVICE_DOWN:
                raise PcscUnavailable(PCSCD_MISSING) from exc
            raise _ReaderGone from exc
        try:
            return self._get_uid(connection)
        finally:
            with contextlib.suppress(SmartcardException):
                connection.release()

    def _get_uid(self, connection: CardConnectionLike) -> CardScan:
        try:
            connection.connect()
        except NoCardException:
            return CardAbsent()
        except CardConnectionException as exc:
            code = _hresult(exc)
            if code in _READER_GONE:
                raise _ReaderGone from exc
            if code in _SERVICE_DOWN:
                raise PcscUnavailable(PCSCD_MISSING) from exc
            return CardUnreadable(f"cannot connect to the card: {exc}")
        try:
            data, sw1, sw2 = connection.transmit(list(GET_UID_APDU))
        except CardConnectionException as exc:
            code = _hresult(exc)
            if code in _READER_GONE:
                raise _ReaderGone from exc
            if code == _CARD_GONE:
                return CardAbsent()  # lifted during the read: the next scan sees it again
            return CardUnreadable(f"GET UID failed: {exc}")
        finally:
            with contextlib.suppress(SmartcardException):
                connection.disconnect()
        if (sw1, sw2) != SW_SUCCESS:
            return CardUnreadable(status_word_problem(sw1, sw2))
        return CardUid(bytes(data))

    def _handle(
        self,
        events: Sequence[ReaderAdded | ReaderRemoved | CardPresented | CardRejected],
    ) -> None:
        for event in events:
            if isinstance(event, CardPresented):
                self._offer_uid(event.uid)
            elif isinstance(event, CardRejected):
                self._reject(f"{event.reader}: {event.reason}")
            elif isinstance(event, ReaderAdded):
                logger.info("%s: reader connected: %s", self.description, event.reader)
            else:
                logger.warning("%s: reader disconnected: %s", self.description, event.reader)
