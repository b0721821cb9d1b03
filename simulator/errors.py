"""How the simulator refuses a client event or an HTTP request: OpenAI's error vocabulary,
keys never echoed."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

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


class HttpRefusal(Exception):
    """An HTTP request refused with OpenAI's error body."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None,
        param: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param, self.kind = (
            status,
            message,
            code,
            param,
            kind,
        )

    def response(self) -> JSONResponse:
        error = {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}
        return JSONResponse({"error": error}, status_code=self.status)


def bearer(headers: Any) -> str | None:
    """The bearer token of an Authorization header, or None."""
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def json_endpoint(
    check_key: Callable[[str | None], None],
    handler: Callable[[dict[str, Any]], Awaitable[JSONResponse]],
) -> Callable[[Request], Awaitable[JSONResponse]]:
    """A POST endpoint as OpenAI's: the key checked first, then a JSON object body; every
    refusal (:class:`HttpRefusal`) answered with OpenAI's error body."""

    async def endpoint(request: Request) -> JSONResponse:
        try:
            check_key(bearer(request.headers))
            try:
                body = json.loads(await request.body() or b"{}")
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise HttpRefusal(
                    400, "We could not parse the JSON body of your request.", None
                ) from exc
            if not isinstance(body, dict):
                raise HttpRefusal(400, "The body must be a JSON object.", None)
            return await handler(body)
        except HttpRefusal as refusal:
            return refusal.response()

    return endpoint
