"""Every status an operation can answer, in its OpenAPI entry (the spec and the server agree;
tests/integration/cloud/test_fuzz.py holds them to it with schemathesis).

A route lists the errors its own handler raises (`responses=error_responses(...)`). What
operations share is added here, from what each is made of:

* 500 everywhere: a bug (logged; the body leaks nothing);
* 413 for every method that can carry a body: the body limit (cloud_api/bodylimit.py) is
  enforced on every route, before the route runs;
* 422 when there is anything to validate (parameters or a body);
* the statuses of the identity dependencies the route uses, each declared by the dependency
  itself (`error_statuses`, cloud_api/deps.py): a token (401), a rate limit (429), row-level
  security refusing a write (403), an identity provider out of reach (503).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from contract.errors import HTTP_STATUS, ErrorCode

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}


def document_statuses(app: FastAPI) -> None:
    """Make `app.openapi()` list, for each operation, every status it can answer."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for context in iter_route_contexts(app.routes):
                route = context.original_route
                if isinstance(route, APIRoute) and route.include_in_schema:
                    operations = schema["paths"][context.path_format]
                    for method in route.methods or ():
                        _complete(operations[method.lower()], route)
            _ensure_error_body(schema)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def statuses_of(route: APIRoute) -> set[int]:
    statuses = {HTTP_STATUS[ErrorCode.INTERNAL_ERROR]}
    if (route.methods or set()) & BODY_METHODS:
        statuses.add(HTTP_STATUS[ErrorCode.BODY_TOO_LARGE])
    dependant = route.dependant
    if dependant.path_params or dependant.query_params or dependant.body_params:
        statuses.add(HTTP_STATUS[ErrorCode.VALIDATION_FAILED])
    for call in _calls(dependant):
        statuses.update(getattr(call, "error_statuses", ()))
    return statuses


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _complete(operation: dict[str, Any], route: APIRoute) -> None:
    responses = operation.setdefault("responses", {})
    for status in sorted(statuses_of(route)):
        responses.setdefault(
            str(status),
            {
                "description": _DESCRIPTIONS.get(status, "Error"),
                "content": {"application/json": {"schema": ERROR_BODY}},
            },
        )


def _ensure_error_body(schema: dict[str, Any]) -> None:
    from contract.kiosk_api import ErrorBody

    components = schema.setdefault("components", {}).setdefault("schemas", {})
    if "ErrorBody" not in components:
        definitions = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(definitions.pop("$defs", {}))
        components["ErrorBody"] = definitions


_DESCRIPTIONS = {
    401: "No valid token (missing, forged, expired, or a revoked kiosk credential)",
    403: "Not allowed (row-level security refused it)",
    413: "Request body over this call's limit",
    422: "Invalid request",
    429: "Too many requests (see Retry-After)",
    500: "A bug on our side (logged)",
    503: "A service this call needs is unavailable",
}
