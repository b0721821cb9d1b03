"""How the simulator refuses a client event: OpenAI's error vocabulary, keys never echoed."""

from __future__ import annotations

import re

_SECRET_LIKE = re.compile(r"\b(sk|ek|rk)[-_][A-Za-z0-9_-]{6,}")


class Refused(Exception):
    """A client event the server will not act on; becomes an `error` event."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param


def redact(text: str) -> str:
    """Error text never echoes a key back in full."""
    return _SECRET_LIKE.sub(lambda m: m.group(0)[:6] + "***", text)
