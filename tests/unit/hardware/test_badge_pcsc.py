"""PC/SC at the pyscard boundary: autospec'd readers and connections, the real adapter.

No card reader can exist here, so pyscard's ``readers()``, reader and card connection are
replaced by ``create_autospec`` fakes that raise what pyscard raises.
"""

from __future__ import annotations

import asyncio
from typing import Any
from unittest.mock import create_autospec

import pytest
import smartcard.System
from eventually import until
from smartcard.CardConnectionDecorator import CardConnectionDecorator
from smartcard.Exceptions import CardConnectionException, NoCardException
from smartcard.pcsc.PCSCExceptions import EstablishContextException
from smartcard.pcsc.PCSCReader import PCSCReader
from smartcard.scard import (
    SCARD_E_NO_SERVICE,
    SCARD_E_UNKNOWN_READER,
    SCARD_W_REMOVED_CARD,
)

from hardware.badge_health import ReaderState
from hardware.badge_pcsc import PcscBadgeReader, PcscUnavailable
from hardware.badge_reader import BadgeRead
from hardware.pcsc_presence import (
    CardAbsent,
    CardPresence,
    CardPresented,
    CardRejected,
    CardUid,
    CardUnreadable,
    ReaderAdded,
    ReaderRemoved,
)
from hardware.settings import BadgeReaderSettings, PcscReaderSettings, ReaderKind

ACR122U = "ACS ACR122U PICC Interface 00 00"
UID_7 = [0x04, 0x5C, 0x8A, 0x22, 0x9F, 0x61, 0x80]


def fake_reader(name: str, *cards: object) -> Any:
    """A reader whose successive connections see ``cards`` in turn (then the last forever).

    Each card is a list of UID bytes (answered with 90 00), a (data, sw1, sw2) answer,
    None (no card), or an exception raised by connect().
    """
    reader = create_autospec(PCSCReader, instance=True)
    reader.name = name
    answers = list(cards)
    connections: list[Any] = []

    def connect_next() -> Any:
        card = answers.pop(0) if len(answers) > 1 else answers[0]
        connection = create_autospec(CardConnectionDecorator, instance=True)
        if card is None:
            connection.connect.side_effect = NoCardException("Unable to connect", hresult=0)
        elif isinstance(card, Exception):
            connection.connect.side_effect = card
        elif isinstance(card, tuple):
            connection.transmit.return_value = card
        else:
            connection.transmit.return_value = (card, 0x90, 0x00)
        connections.append(connection)
        return connection

    reader.createConnection.side_effect = connect_next
    reader.connections = connections
    return reader


def listing(*results: object) -> Any:
    """An autospec'd ``smartcard.System.readers`` returning or raising ``results`` in turn."""
    readers = create_autospec(smartcard.System.readers)
    queue = list(results)

    def next_result(groups: object = None) -> Any:
        result = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(result, Exception):
            raise result
        return result

    readers.side_effect = next_result
    return readers


def settings(**pcsc: Any) -> BadgeReaderSettings:
    return BadgeReaderSettings(kind=ReaderKind.PCSC, pcsc=PcscReaderSettings(**pcsc))


async def no_wait(_: float) -> None:
    await asyncio.sleep(0)


def test_success_reads_the_whole_uid_with_get_uid() -> None:
    reader = fake_reader(ACR122U, UID_7)
    adapter = PcscBadgeReader(settings(), list_readers=listing([reader]))
    assert adapter.scan() == {ACR122U: CardUid(bytes(UID_7))}
    connection = reader.connections[0]
    connection.transmit.assert_called_once_with([0xFF, 0xCA, 0x00, 0x00, 0x00])
    connection.disconnect.assert_called_once_with()
    connection.release.assert_called_once_with()


def test_wrong_status_word_is_an_unreadable_card_with_the_reason() -> None:
    reader = fake_reader(ACR122U, ([], 0x6A, 0x81))
    adapter = PcscBadgeReader(settings(), list_readers=listing([reader]))
    scan = adapter.scan()[ACR122U]
    assert isinstance(scan, CardUnreadable)
    assert "answered 6A 81" in scan.reason
    assert "does not support GET UID" in scan.reason


def test_no_card_and_card_lifted_during_the_read_are_absent() -> None:
    lifted = create_autospec(CardConnectionDecorator, instance=True)
    lifted.transmit.side_effect = CardConnectionException(
        "Failed to transmit", hresult=SCARD_W_REMOVED_CARD
    )
    reader = fake_reader("empty reader", None)
    other = create_autospec(PCSCReader, instance=True)
    other.name = "lifted"
    other.createConnection.return_value = lifted
    adapter = PcscBadgeReader(settings(), list_readers=listing([reader, other]))
    assert adapter.scan() == {"empty reader": CardAbsent(), "lifted": CardAbsent()}
    lifted.disconnect.assert_called_once_with()


def test_reader_removed_between_listing_and_reading_is_skipped() -> None:
    gone = CardConnectionException("Unable to connect", hresult=SCARD_E_UNKNOWN_READER)
    removed = fake_reader("unplugged reader", gone)
    present = fake_reader(ACR122U, UID_7)
    adapter = PcscBadgeReader(settings(), list_readers=listing([removed, present]))
    assert adapter.scan() == {ACR122U: CardUid(bytes(UID_7))}


def test_pcscd_missing_says_how_to_start_it() -> None:
    missing = EstablishContextException(SCARD_E_NO_SERVICE)
    adapter = PcscBadgeReader(settings(), list_readers=listing(missing))
    with pytest.raises(PcscUnavailable, match=r"pcscd is not running: start it with `sudo"):
        adapter.scan()


def test_reader_name_filter() -> None:
    wanted = fake_reader(ACR122U, UID_7)
    other = fake_reader("Yubico YubiKey OTP+FIDO+CCID 00 00", None)
    adapter = PcscBadgeReader(settings(reader_name="acr122"), list_readers=listing([other, wanted]))
    assert list(adapter.scan()) == [ACR122U]
    other.createConnection.assert_not_called()


def test_presence_turns_scans_into_taps() -> None:
    presence = CardPresence()
    uid = CardUid(b"\x04\xa2\x3b\x12")
    assert presence.update({"r": CardAbsent()}) == [ReaderAdded("r")]
    assert presence.update({"r": uid}) == [CardPresented("r", uid.uid)]
    assert presence.update({"r": uid}) == []  # resting on the reader: still one tap
    assert presence.update({"r": CardAbsent()}) == []
    assert presence.update({"r": uid}) == [CardPresented("r", uid.uid)]
    bad = CardUnreadable("63 00")
    assert presence.update({"r": bad}) == [CardRejected("r", "63 00")]
    assert presence.update({"r": bad}) == []  # reported once per presentation
    assert presence.update({}) == [ReaderRemoved("r")]


async def test_reader_delivers_one_read_per_tap_and_survives_hot_plug() -> None:
    first = fake_reader(ACR122U, None, UID_7, UID_7, UID_7, None, None)
    replugged = fake_reader(ACR122U, [0x04, 0xA2, 0x3B, 0x12])
    readers = listing([first], [first], [first], [first], [first], [], [replugged])
    adapter = PcscBadgeReader(settings(), list_readers=readers, sleep=no_wait)
    reads: list[BadgeRead] = []
    async with adapter:
        async with asyncio.timeout(10):
            async for read in adapter.reads():
                reads.append(read)
                if len(reads) == 2:
                    break
    assert [r.badge_id for r in reads] == ["045C8A229F6180", "04A23B12"]
    assert reads[0].reader == "pcsc:any reader"
    assert adapter.health.reads == 2


async def test_reader_reports_pcscd_missing_then_recovers() -> None:
    missing = EstablishContextException(SCARD_E_NO_SERVICE)
    reader = fake_reader(ACR122U, UID_7)
    seen: list[tuple[ReaderState, str]] = []

    async def note_health(_: float) -> None:
        seen.append((adapter.health.state, adapter.health.detail))
        await asyncio.sleep(0)

    adapter = PcscBadgeReader(
        settings(), list_readers=listing(missing, missing, [reader]), sleep=note_health
    )
    async with adapter:
        await until(lambda: adapter.health.reads == 1)
    assert seen[0][0] is ReaderState.UNAVAILABLE
    assert seen[0][1].startswith("pcscd is not running: start it")
    assert seen[2] == (ReaderState.READY, f"watching {ACR122U}")
    assert adapter.health.last_error == seen[0][1]


async def test_no_reader_connected_is_reported() -> None:
    adapter = PcscBadgeReader(settings(), list_readers=listing([]), sleep=no_wait)
    async with adapter:
        await until(lambda: adapter.health.state is ReaderState.UNAVAILABLE)
        detail = adapter.health.detail
    assert detail.startswith("no PC/SC reader connected")
    assert "pn533" in detail


async def test_unreadable_card_is_counted_not_delivered() -> None:
    reader = fake_reader(ACR122U, ([], 0x63, 0x00))
    adapter = PcscBadgeReader(settings(), list_readers=listing([reader]), sleep=no_wait)
    async with adapter:
        await until(lambda: adapter.health.rejected == 1)
        health = adapter.health
    assert health.reads == 0
    assert "could not read the card" in (health.last_error or "")
