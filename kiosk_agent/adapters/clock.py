"""The only place the agent reads clocks: inputs to the state machine carry a Moment."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from kiosk_agent.core.machine import Moment


def now() -> Moment:
    return Moment(wall=datetime.now(UTC), mono=time.monotonic())
