"""One JSON shape for every error the API returns, with a code and a human sentence.

    {"error": {"code": "validation_failed", "message": "...", "details": [...]}}

The code is always an `ErrorCode` (contract/errors.py) and its status comes from the
contract's `HTTP_STATUS` table, so the two can never disagree. Invalid input is a 4xx with a
useful message; an unexpected failure is logged and answered with a generic 500 that leaks
nothing.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cloud_api.ratelimit import LimitExceeded
from contract.errors import HTTP_STATUS, ErrorCode

log = logging.getLogger("jarvis.cloud")


class ApiError(Exception):
    """An error the caller can act on; answered with the code's own status."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        details: Any = None,
    ) -> None:
        if not isinstance(code, ErrorCode) or code not in HTTP_STATUS:
            raise TypeError(f"ApiError needs an ErrorCode with a fixed status, not {code!r}")
        super().__init__(message)
        self.status = HTTP_STATUS[code]
        self.code = code
        self.message = message
        self.headers = headers
        self.details = details


def error_body(code: ErrorCode, message: str, details: Any = None) -> dict[str, Any]:
    if not isinstance(code, ErrorCode):
        raise TypeError(f"an error body needs an ErrorCode, not {code!r}")
    error: dict[str, Any] = {"code": code.value, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


# Statuses the HTTP layer (routing) refuses with on its own, and their codes; any other is
# `http_error` with the layer's status.
HTTP_LAYER_CODES: dict[int, ErrorCode] = {
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
}


def _describe_validation(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    details = []
    for err in exc.errors():
        location = ".".join(str(part) for part in err.get("loc", ()) if part != "body")
        details.append({"field": location or "body", "problem": err.get("msg", "invalid")})
    first = details[0] if details else {"field": "body", "problem": "invalid"}
    return f"Invalid request: {first['field']}: {first['problem']}.", details


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details), exc.status, headers=exc.headers
        )

    @app.exception_handler(LimitExceeded)
    async def _limited(_: Request, exc: LimitExceeded) -> JSONResponse:
        code = ErrorCode.RATE_LIMITED
        message = (
            f"Too many requests: {exc.limit.describe()}. Try again in {exc.decision.reset_s} s."
        )
        return JSONResponse(
            error_body(code, message), HTTP_STATUS[code], headers=exc.decision.headers()
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, details = _describe_validation(exc)
        code = ErrorCode.VALIDATION_FAILED
        return JSONResponse(error_body(code, message, details), HTTP_STATUS[code])

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.__cause__ is not None:
            # FastAPI's answer to a body it could not parse for a reason other than bad
            # JSON syntax (which is already a 422): bad input like any other.
            code = ErrorCode.VALIDATION_FAILED
            message = _unreadable(exc.__cause__)
            return JSONResponse(error_body(code, message), HTTP_STATUS[code])
        code = HTTP_LAYER_CODES.get(exc.status_code, ErrorCode.HTTP_ERROR)
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)

    @app.exception_handler(psycopg.errors.DataError)
    @app.exception_handler(psycopg.errors.CheckViolation)
    async def _bad_value(
        request: Request, exc: psycopg.errors.DataError | psycopg.errors.CheckViolation
    ) -> JSONResponse:
        # Class 22 is the database refusing a value the request carried (a NUL character,
        # a number out of a column's range), a check violation a value breaking one of the
        # data model's rules: the caller's input, not our fault.
        log.info(
            "data error on %s %s: %s", request.method, request.url.path, exc.diag.message_primary
        )
        code = ErrorCode.INVALID_VALUE
        return JSONResponse(
            error_body(
                code,
                f"A value in the request cannot be stored: "
                f"{exc.diag.message_primary or 'invalid value'}.",
            ),
            HTTP_STATUS[code],
        )

    @app.exception_handler(psycopg.errors.InsufficientPrivilege)
    async def _refused(request: Request, exc: psycopg.errors.InsufficientPrivilege) -> JSONResponse:
        # Row-level security refused a write the caller may not make (a kiosk of a gym they
        # can see but not manage): the caller's limit, not our fault.
        log.info("refused on %s %s: %s", request.method, request.url.path, exc.diag.message_primary)
        code = ErrorCode.FORBIDDEN
        return JSONResponse(error_body(code, "You are not allowed to do this."), HTTP_STATUS[code])

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        code = ErrorCode.INTERNAL_ERROR
        return JSONResponse(
            error_body(code, "Something went wrong on our side; it has been logged."),
            HTTP_STATUS[code],
        )


def _unreadable(cause: BaseException) -> str:
    if isinstance(cause, RecursionError):
        return "Invalid request: the body's JSON is nested too deeply."
    if isinstance(cause, UnicodeDecodeError):
        return "Invalid request: the body is not UTF-8 text."
    return "Invalid request: the body could not be read as JSON."


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting the error body for these statuses."""
    from contract.kiosk_api import ErrorBody

    return {status: {"model": ErrorBody} for status in statuses}
