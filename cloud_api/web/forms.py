"""Form posts: every one carries the viewer's CSRF token, checked before anything happens."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from cloud_api.web import session
from cloud_api.web.render import PageError
from contract.errors import ErrorCode

CSRF_REFUSED = PageError(
    403,
    "Form expired",
    "This form is out of date or did not come from this dashboard: go back, reload the page "
    "and try again.",
    ErrorCode.CSRF_FAILED,
)


async def checked_form(request: Request, viewer: session.Viewer) -> FormData:
    form = await request.form()
    given = form.get(session.CSRF_FIELD) or request.headers.get(session.CSRF_HEADER)
    if not isinstance(given, str) or not session.CsrfKeys.matches(viewer.csrf_token, given):
        raise CSRF_REFUSED
    return form


def text(form: FormData, name: str, *, max_length: int = 2000) -> str:
    value = form.get(name)
    if value is None or isinstance(value, UploadFile):
        return ""
    value = value.strip()
    if len(value) > max_length:
        raise PageError(
            422,
            "Too long",
            f"The field {name.replace('_', ' ')} takes at most {max_length} characters.",
            ErrorCode.VALIDATION_FAILED,
        )
    return value


def refused(message: str, code: ErrorCode = ErrorCode.VALIDATION_FAILED) -> PageError:
    return PageError(422, "Cannot do that", message, code)


def flash_query(**values: Any) -> str:
    from urllib.parse import urlencode

    return urlencode({k: v for k, v in values.items() if v})
