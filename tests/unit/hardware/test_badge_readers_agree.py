"""The issue's promise: a badge from any reader kind reaches the agent as the same id."""

from __future__ import annotations

import asyncio
from pathlib import Path
from unittest.mock import create_autospec

import httpx
import smartcard.System
from evtest_recordings import load_recording
from smartcard.CardConnectionDecorator import CardConnectionDecorator
from smartcard.pcsc.PCSCReader import PCSCReader
from test_badge_wedge_reader import fake_device

from contract.badge import BadgeEncoding, BadgeRules, ByteOrder
from hardware.badge_factory import open_badge_reader
from hardware.badge_pcsc import PcscBadgeReader
from hardware.badge_reader import BadgeRead, QueuedBadgeReader
from hardware.badge_sim import SimulatedBadgeReader
from hardware.badge_wedge import WedgeBadgeReader
from hardware.settings import (
    BadgeReaderSettings,
    PcscReaderSettings,
    ReaderKind,
    SimulatedReaderSettings,
    WedgeReaderSettings,
)

# The MIFARE card with UID 04 A2 3B 12, as each reader kind sees it.
CANONICAL = "04A23B12"


async def first_read(reader: QueuedBadgeReader) -> BadgeRead:
    async with asyncio.timeout(10):
        async for read in reader.reads():
            return read
    raise AssertionError("reads() ended")


async def test_one_card_is_one_id_on_every_reader_kind(tmp_path: Path) -> None:
    # A wedge reader typing the reversed 10-digit decimal number.
    path = tmp_path / "event-kbd"
    path.touch()
    device = fake_device(str(path), load_recording("us_decimal_two_taps"))
    wedge = WedgeBadgeReader(
        BadgeReaderSettings(
            kind=ReaderKind.EVDEV,
            rules=BadgeRules(encoding=BadgeEncoding.DECIMAL, byte_order=ByteOrder.LSB_FIRST),
            evdev=WedgeReaderSettings(device_path=path),
        ),
        open_device=lambda _: device,
    )
    # A PC/SC reader returning the UID bytes.
    card = create_autospec(CardConnectionDecorator, instance=True)
    card.transmit.return_value = ([0x04, 0xA2, 0x3B, 0x12], 0x90, 0x00)
    acr = create_autospec(PCSCReader, instance=True)
    acr.name = "ACS ACR122U PICC Interface 00 00"
    acr.createConnection.return_value = card
    readers = create_autospec(smartcard.System.readers, return_value=[acr])
    pcsc = PcscBadgeReader(BadgeReaderSettings(kind=ReaderKind.PCSC), list_readers=readers)
    # The simulated reader, given the id as printed by a phone app.
    simulated = SimulatedBadgeReader(
        BadgeReaderSettings(simulated=SimulatedReaderSettings(stdin=False, http_port=0))
    )

    async with wedge, pcsc, simulated:
        address = simulated.http_address
        assert address is not None
        async with httpx.AsyncClient() as client:
            await client.post(f"http://{address[0]}:{address[1]}/badge", content="04:a2:3b:12")
        reads = [await first_read(r) for r in (wedge, pcsc, simulated)]
    assert [r.badge_id for r in reads] == [CANONICAL] * 3
    assert [r.raw for r in reads] == ["0305897988", CANONICAL, "04:a2:3b:12"]


def test_settings_pick_the_reader_kind(tmp_path: Path) -> None:
    wedge = open_badge_reader(
        BadgeReaderSettings(
            kind=ReaderKind.EVDEV, evdev=WedgeReaderSettings(device_path=tmp_path / "kbd")
        )
    )
    pcsc = open_badge_reader(
        BadgeReaderSettings(kind=ReaderKind.PCSC, pcsc=PcscReaderSettings(reader_name="acr"))
    )
    simulated = open_badge_reader(BadgeReaderSettings())
    assert isinstance(wedge, WedgeBadgeReader)
    assert wedge.description == f"evdev:{tmp_path / 'kbd'}"
    assert isinstance(pcsc, PcscBadgeReader)
    assert pcsc.description == "pcsc:acr"
    assert isinstance(simulated, SimulatedBadgeReader)
    assert simulated.description == "simulated:stdin"
