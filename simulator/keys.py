"""Client secrets (`ek_…`) the simulator mints: short-lived, each bound to a session config.

A secret can open several sessions until it expires (as OpenAI's do); the sessions opened
with one secret share a script position, so a client that reconnects goes on with its
conversation. Expired secrets are remembered for a while so a late client is told
"expired" rather than "unknown".
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.model import ScriptProgress

MIN_TTL_S = 10
MAX_TTL_S = 7200
DEFAULT_TTL_S = 600
_REMEMBER_EXPIRED_S = 600


@dataclass
class ClientSecret:
    value: str
    expires_at: float
    """Seconds since the epoch."""
    session: dict[str, Any]
    progress: ScriptProgress

    @property
    def model(self) -> str:
        return str(self.session["model"])


class ClientSecretStore:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._secrets: dict[str, ClientSecret] = {}

    def mint(self, session: dict[str, Any], ttl_s: int, progress: ScriptProgress) -> ClientSecret:
        self._forget_old()
        secret = ClientSecret(
            value="ek_" + secrets.token_hex(16),
            expires_at=float(int(self._clock()) + ttl_s),
            session=session,
            progress=progress,
        )
        self._secrets[secret.value] = secret
        return secret

    def find(self, value: str) -> tuple[ClientSecret | None, bool]:
        """(the secret, whether it has expired); (None, False) when never minted here."""
        secret = self._secrets.get(value)
        if secret is None:
            return None, False
        return secret, self._clock() >= secret.expires_at

    def __len__(self) -> int:
        return len(self._secrets)

    def _forget_old(self) -> None:
        cutoff = self._clock() - _REMEMBER_EXPIRED_S
        for value in [v for v, s in self._secrets.items() if s.expires_at < cutoff]:
            del self._secrets[value]
