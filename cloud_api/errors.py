"""One JSON shape for every error the API returns, with a code and a human sentence.

    {"error": {"code": "validation_failed", "message": "...", "details": [...]}}

Invalid input is a 4xx with a useful message; an unexpected failure is logged and answered
with a generic 500 that leaks nothing.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("jarvis.cloud")


class ApiError(Exception):
    """An error the caller can act on."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.details = details


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


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

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, details = _describe_validation(exc)
        return JSONResponse(error_body("validation_failed", message, details), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.__cause__ is not None:
            # FastAPI's answer to a body it could not parse for a reason other than bad
            # JSON syntax (which is already a 422): bad input like any other.
            return JSONResponse(error_body("validation_failed", _unreadable(exc.__cause__)), 422)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)

    @app.exception_handler(psycopg.errors.DataError)
    async def _bad_value(request: Request, exc: psycopg.errors.DataError) -> JSONResponse:
        # Class 22 is the database refusing a value the request carried (a NUL character,
        # a number out of a column's range): the caller's input, not our fault.
        log.info(
            "data error on %s %s: %s", request.method, request.url.path, exc.diag.message_primary
        )
        return JSONResponse(
            error_body(
                "invalid_value",
                f"A value in the request cannot be stored: "
                f"{exc.diag.message_primary or 'invalid value'}.",
            ),
            422,
        )

    @app.exception_handler(psycopg.errors.InsufficientPrivilege)
    async def _refused(request: Request, exc: psycopg.errors.InsufficientPrivilege) -> JSONResponse:
        # Row-level security refused a write the caller may not make (a kiosk of a gym they
        # can see but not manage): the caller's limit, not our fault.
        log.info("refused on %s %s: %s", request.method, request.url.path, exc.diag.message_primary)
        return JSONResponse(error_body("forbidden", "You are not allowed to do this."), 403)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body("internal_error", "Something went wrong on our side; it has been logged."),
            500,
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
