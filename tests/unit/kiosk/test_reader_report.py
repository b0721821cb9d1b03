"""Reader problems reach the heartbeat and `doctor`: the agent's badge loop over a real
(simulated) reader fed through a named pipe, its published report in a real store, and the
doctor's check reading it back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contract.badge import BadgeEncoding, BadgeRules, ByteOrder
from contract.kiosk_api import HeartbeatRequest
from hardware.settings import BadgeReaderSettings, ReaderKind, SimulatedReaderSettings
from kiosk_agent.adapters.clock import now
from kiosk_agent.adapters.store_worker import StoreWorker
from kiosk_agent.checks import Check, Verdict
from kiosk_agent.config import KioskSettings, StoreSection
from kiosk_agent.core.heartbeat import DeviceFigures, StoreFigures, SystemFigures, build_heartbeat
from kiosk_agent.core.machine import AgentState, BadgeTapped, Input
from kiosk_agent.doctor_badges import check_reader, check_recorded_reads
from kiosk_agent.readers import READER_REPORT_KEY, BadgeLoop

DECIMAL_IDS = ["0305897988", "0077740818", "0305897988"]


class Loop:
    """The agent's badge loop over a simulated reader fed through a named pipe, publishing
    to a real store; ``repeats`` stands for the state machine's count."""

    def __init__(self, store: StoreWorker, settings: BadgeReaderSettings) -> None:
        self.store = store
        self.pipe = settings.simulated.pipe_path
        self.fed: list[Input] = []
        self.errors: list[str] = []
        self.repeats = 0
        self.latest: str | None = None
        self.published = asyncio.Event()
        self.badges = BadgeLoop(
            settings,
            self.fed.append,
            now,
            self.errors.append,
            repeats_ignored=lambda: self.repeats,
            publish=self.publish,
            publish_every_s=0.02,
        )

    async def publish(self, report: str) -> None:
        await self.store.write(lambda s: s.put({READER_REPORT_KEY: report}))
        self.latest = report
        self.published.set()

    async def feed(self, lines: list[str], *, repeats: int = 0) -> DeviceFigures:
        """Write ``lines`` to the reader; the figures once the store holds their report."""
        task = asyncio.create_task(self.badges.run())
        try:
            pipe = self.pipe
            assert pipe is not None
            await until(lambda: pipe.is_fifo() and self.badges.reader is not None)
            with pipe.open("w") as writer:
                writer.write("".join(f"{line}\n" for line in lines))
            await until(lambda: self.seen() == len(lines))
            self.repeats = repeats
            figures = self.badges.figures()
            assert figures.reader is not None
            expected = figures.reader.model_dump_json()
            async with asyncio.timeout(5):
                while self.latest != expected:
                    self.published.clear()
                    await self.published.wait()
            assert await self.store.read(lambda s: s.get(READER_REPORT_KEY)) == expected
            return figures
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    def seen(self) -> int:
        report = self.badges.report()
        return 0 if report is None else report.reads + report.rejected


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 - a reader and a pipe give no event to wait on
            await asyncio.sleep(0.01)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[StoreWorker]:
    worker = StoreWorker(tmp_path / "kiosk.db", StoreSection())
    assert await worker.open()
    yield worker
    await worker.close()


def simulated(pipe: Path, rules: BadgeRules | None = None) -> BadgeReaderSettings:
    return BadgeReaderSettings(
        kind=ReaderKind.SIMULATED,
        rules=rules or BadgeRules(),
        simulated=SimulatedReaderSettings(stdin=False, pipe_path=pipe),
    )


async def test_reads_reach_the_machine_and_the_report_reaches_heartbeat_and_store(
    store: StoreWorker, tmp_path: Path
) -> None:
    loop = Loop(store, simulated(tmp_path / "badge"))
    figures = await loop.feed(DECIMAL_IDS, repeats=1)
    assert len(loop.fed) == 3
    assert all(isinstance(e, BadgeTapped) for e in loop.fed)
    assert figures.reader_ok is True
    report = figures.reader
    assert report is not None
    assert (report.reads, report.rejected, report.repeats_ignored) == (3, 0, 1)
    assert report.recent_shapes == ["decimal:10"] * 3
    assert report.advice is not None
    assert "ENCODING=decimal" in report.advice
    beat = build_heartbeat(
        software_version="1",
        state=AgentState.IDLE,
        system=SystemFigures(),
        store=StoreFigures(),
        devices=figures,
        last_error=None,
        sent_at=datetime.now(UTC),
    )
    sent = HeartbeatRequest.model_validate_json(beat.model_dump_json())  # as the cloud reads it
    assert sent.health.reader == report


async def test_doctor_warns_from_what_the_agent_saw_under_the_rules_set_now(
    store: StoreWorker, tmp_path: Path
) -> None:
    await Loop(store, simulated(tmp_path / "badge")).feed(DECIMAL_IDS, repeats=1)
    await store.close()
    on_hex = KioskSettings(state_dir=tmp_path, badge=simulated(tmp_path / "badge"))
    check = check_recorded_reads(on_hex)
    assert check.verdict is Verdict.WARN
    assert "3 read, 0 refused by the rules, 1 repeats ignored" in check.finding
    assert "3× decimal:10" in check.finding
    assert "JARVIS_KIOSK_BADGE__RULES__ENCODING=decimal" in check.advice
    decimal = BadgeRules(encoding=BadgeEncoding.DECIMAL)
    fixed = KioskSettings(state_dir=tmp_path, badge=simulated(tmp_path / "badge", decimal))
    assert check_recorded_reads(fixed).verdict is Verdict.OK


async def test_doctor_warns_when_many_reads_are_lost(store: StoreWorker, tmp_path: Path) -> None:
    settings = simulated(tmp_path / "badge", BadgeRules(encoding=BadgeEncoding.DECIMAL))
    # A hex id on a decimal reader is refused (the journal says why).
    await Loop(store, settings).feed(["04A23B12", "0305897988"])
    await store.close()
    check = check_recorded_reads(KioskSettings(state_dir=tmp_path, badge=settings))
    assert check.verdict is Verdict.WARN
    assert "1 read, 1 refused by the rules" in check.finding
    assert "journalctl" in check.advice


def test_before_the_agent_ever_ran_there_is_nothing_to_judge(tmp_path: Path) -> None:
    check = check_recorded_reads(KioskSettings(state_dir=tmp_path))
    assert check.verdict is Verdict.OK
    assert "no reads recorded" in check.finding


async def test_a_reader_that_cannot_work_is_reported_not_retried(tmp_path: Path) -> None:
    settings = BadgeReaderSettings(
        kind=ReaderKind.SIMULATED, simulated=SimulatedReaderSettings(stdin=False)
    )
    errors: list[str] = []

    async def publish(report: str) -> None:
        raise AssertionError("nothing to publish")

    loop = BadgeLoop(
        settings, lambda _: None, now, errors.append, repeats_ignored=lambda: 0, publish=publish
    )
    async with asyncio.timeout(5):
        await loop.run()  # returns: the agent keeps running without badges
    assert errors == [loop.failure]
    assert loop.failure is not None
    assert "has no source" in loop.failure
    figures = loop.figures()
    assert figures.reader_ok is False
    assert figures.reader_detail == loop.failure


async def test_doctor_judges_a_tapped_badge_against_the_rules(tmp_path: Path) -> None:
    async def tap(raw: str, rules: BadgeRules | None = None) -> Check:
        # A pipe of its own: writing to one no reader holds open would block.
        pipe = tmp_path / f"badge-{raw}-{rules is None}"
        checking = asyncio.create_task(check_reader(simulated(pipe, rules), badge_wait_s=5))
        await until(pipe.is_fifo)
        with pipe.open("w") as writer:
            writer.write(f"{raw}\n")
        return await checking

    on_hex = await tap("0305897988")
    assert on_hex.verdict is Verdict.WARN
    assert "read badge 0305897988 (raw '0305897988')" in on_hex.finding
    assert "the only badge read so far is a 10-digit decimal number" in on_hex.advice
    decimal = BadgeRules(encoding=BadgeEncoding.DECIMAL, byte_order=ByteOrder.LSB_FIRST)
    right = await tap("0305897988", decimal)
    assert right.verdict is Verdict.OK
    assert "read badge 04A23B12" in right.finding
