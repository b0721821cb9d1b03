"""The per-account limit on failed sign-ins (migration 20261129004300).

Keyed on the email as typed, whether or not an account has it (so the limit reveals nothing
about which emails exist), counted across source addresses. Only the API's login role runs
these functions: call them in `Database.login_role_transaction`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cloud_api.db.database import Conn


@dataclass(frozen=True)
class Policy:
    """`max_failures` within `window` lock password sign-in for `lockout_s`, doubling per
    lockout up to `lockout_max_s`; an address with a success within `trusted` is not held."""

    max_failures: int
    window: timedelta
    lockout_s: int
    lockout_max_s: int
    trusted: timedelta


async def wait_s(conn: Conn, email: str, source: str, policy: Policy) -> int:
    """Seconds this source must wait before a password for `email` is checked (0: go ahead)."""
    cur = await conn.execute(
        "select private.sign_in_gate(%s, %s, %s) as wait", (email, source, policy.trusted)
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row["wait"])


async def record(conn: Conn, email: str, source: str, ok: bool, policy: Policy) -> int:
    """Record a password check's outcome; the seconds of the lockout it started (0: none)."""
    cur = await conn.execute(
        "select private.sign_in_outcome(%s, %s, %s, %s, %s, %s, %s) as lock_s",
        (
            email,
            source,
            ok,
            policy.max_failures,
            policy.window,
            policy.lockout_s,
            policy.lockout_max_s,
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row["lock_s"])
