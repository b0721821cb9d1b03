"""``jarvis-kiosk doctor``'s badge checks: the reader opens and reads a tap, and what the
running agent's reader saw (counters, dropped partial ids, the shapes of recent reads)."""

from __future__ import annotations

import asyncio
import contextlib

from pydantic import ValidationError

from contract.kiosk_api import ReaderReport
from hardware.badge_factory import open_badge_reader
from hardware.badge_health import ReaderState, reader_advice
from hardware.badge_reader import BadgeReaderError
from hardware.settings import BadgeReaderSettings, ReaderKind
from kiosk_agent.adapters.store_base import StoreError
from kiosk_agent.adapters.store_open import open_readonly
from kiosk_agent.checks import Check, Verdict, poll
from kiosk_agent.config import KioskSettings
from kiosk_agent.readers import READER_REPORT_KEY, health_from_report

READER = "badge reader"
READS = "badge reads"
RULES_HINT = "set the reader's rules (JARVIS_KIOSK_BADGE__RULES__...): see docs/HARDWARE.md"


async def check_reader(settings: BadgeReaderSettings, badge_wait_s: float) -> Check:
    """Open the reader (the agent must be stopped: it holds the device) and, when asked,
    wait for a tap and judge its id against the rules."""
    try:
        reader = open_badge_reader(settings)
        async with reader:
            await poll(lambda: reader.health.state is not ReaderState.STARTING, 3.0)
            health = reader.health
            if health.state is not ReaderState.READY:
                return Check(READER, Verdict.FAIL, f"{reader.description}: {health.detail}")
            if badge_wait_s <= 0:
                simulated = settings.kind is ReaderKind.SIMULATED
                return Check(
                    READER,
                    Verdict.OK,
                    f"{reader.description}: {health.detail}",
                    "simulated reader: for development only" if simulated else "",
                )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(badge_wait_s):
                    async for read in reader.reads():
                        found = (
                            f"read badge {read.badge_id} (raw {read.raw!r}) on {reader.description}"
                        )
                        advice = reader_advice(settings, reader.health)
                        if advice is not None:
                            return Check(READER, Verdict.WARN, found, advice)
                        return Check(READER, Verdict.OK, found)
            problem = reader.health.last_error
            return Check(
                READER,
                Verdict.FAIL,
                f"{reader.description} is open but no badge was read in {badge_wait_s:g} s"
                + (f" ({problem})" if problem else ""),
                reader_advice(settings, reader.health)
                or "tap a badge flat on the reader; check the reader's badge encoding settings",
            )
    except (BadgeReaderError, OSError) as exc:
        return Check(READER, Verdict.FAIL, str(exc))
    return Check(READER, Verdict.FAIL, "the reader stopped")


def check_recorded_reads(settings: KioskSettings) -> Check:
    """What the agent published about its reader (works while the agent runs)."""
    try:
        store = open_readonly(settings.database_path, settings.store)
    except StoreError:
        return Check(READS, Verdict.OK, "no reads recorded: the agent has not run here yet")
    try:
        text = store.get(READER_REPORT_KEY)
    finally:
        store.close()
    if text is None:
        return Check(READS, Verdict.OK, "no reads recorded by the agent yet")
    try:
        report = ReaderReport.model_validate_json(text)
    except ValidationError:
        return Check(READS, Verdict.WARN, "the agent's reader report cannot be read", "")
    health = health_from_report(report)
    dropped = health.dropped
    finding = (
        f"{report.reads} read, {report.rejected} refused by the rules, "
        f"{report.repeats_ignored} repeats ignored, {dropped.total} partial ids dropped "
        f"(gap {dropped.gap}, unknown keys {dropped.garbage}, too long {dropped.too_long}, "
        f"unplugged {dropped.unplugged})"
    )
    if report.last_read_at is not None:
        finding += f"; last read {report.last_read_at:%Y-%m-%d %H:%M:%S} UTC"
    if report.recent_shapes:
        finding += f"; recent ids: {_shapes(report.recent_shapes)}"
    # Judged against the rules set now, which may have changed since the agent read them.
    advice = reader_advice(settings.badge, health)
    if advice is not None:
        return Check(READS, Verdict.WARN, finding, advice)
    trouble = report.rejected + dropped.total
    if trouble and trouble * 10 > report.reads:
        return Check(
            READS,
            Verdict.WARN,
            finding,
            "many reads are lost: see why in the agent's journal (`journalctl -u jarvis-kiosk`); "
            + RULES_HINT,
        )
    return Check(READS, Verdict.OK, finding)


def _shapes(shapes: list[str]) -> str:
    counts: dict[str, int] = {}
    for shape in shapes:
        counts[shape] = counts.get(shape, 0) + 1
    return ", ".join(f"{n}× {shape}" for shape, n in counts.items())
