"""Recorded evdev event sequences in `evtest` text format, for the wedge reader tests."""

from __future__ import annotations

import re
from pathlib import Path

from evdev import InputEvent, ecodes

RECORDINGS = Path(__file__).parent / "recordings"
UNPLUGGED = "UNPLUGGED"
"""Marker a recording uses where the reader was pulled out (``# UNPLUGGED``)."""

_EVENT = re.compile(
    r"^Event: time (?P<sec>\d+)\.(?P<usec>\d{6}), type (?P<type>\d+) \(\w+\), "
    r"code (?P<code>\d+) \(\w+\), value (?P<value>[0-9a-f-]+)$"
)
_SYN = re.compile(r"^Event: time (?P<sec>\d+)\.(?P<usec>\d{6}), -+ SYN_REPORT -+$")

Recording = list[InputEvent | str]


def parse_evtest(text: str) -> Recording:
    """Events from `evtest` output, with ``UNPLUGGED`` where the recording says so."""
    events: Recording = []
    for line in text.splitlines():
        if line.startswith("#"):
            if line.strip("# ") == UNPLUGGED:
                events.append(UNPLUGGED)
            continue
        if match := _EVENT.match(line):
            base = 16 if int(match["type"]) == ecodes.EV_MSC else 10
            events.append(
                InputEvent(
                    int(match["sec"]),
                    int(match["usec"]),
                    int(match["type"]),
                    int(match["code"]),
                    int(match["value"], base),
                )
            )
        elif match := _SYN.match(line):
            events.append(
                InputEvent(
                    int(match["sec"]), int(match["usec"]), ecodes.EV_SYN, ecodes.SYN_REPORT, 0
                )
            )
        else:
            raise ValueError(f"not an evtest line: {line!r}")
    return events


def load_recording(name: str) -> Recording:
    """The events of ``recordings/NAME.evtest``."""
    return parse_evtest((RECORDINGS / f"{name}.evtest").read_text())
