"""What a ``jarvis-kiosk doctor`` check answers (a verdict, a finding, and what to do), and
how checks wait on devices."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    verdict: Verdict
    finding: str
    advice: str = ""


def render_check(check: Check) -> str:
    mark = {Verdict.OK: " ok ", Verdict.WARN: "WARN", Verdict.FAIL: "FAIL"}[check.verdict]
    line = f"[{mark}] {check.name}: {check.finding}"
    if check.advice:
        line += f"\n       → {check.advice}"
    return line


async def poll(done: Callable[[], bool], timeout_s: float, step_s: float = 0.05) -> bool:
    """Look at ``done`` until it holds or ``timeout_s`` passes (devices give no events)."""
    for _ in range(max(1, int(timeout_s / step_s))):
        if done():
            return True
        await asyncio.sleep(step_s)
    return done()
