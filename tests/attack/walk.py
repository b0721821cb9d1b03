"""Requests for every operation of the cloud's OpenAPI spec, filled with another tenant's ids.

Nothing here knows the operations: paths, parameters and bodies come from the spec, and each
value is chosen by its name (a `member_id` is the victim's member, a `gym_slug` the victim's
gym...), so operations added later (the dashboards' JSON endpoints) are walked as they land.
Bodies are the smallest valid ones: the request gets past validation to where a tenant check
has to hold.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from tests.attack.world import Tenant

# Names (of parameters and body fields) and the kind of the victim's id that fills them, in
# the order they are tried against a name that is not listed exactly.
KINDS = (
    "session",
    "event",
    "kiosk",
    "member",
    "badge",
    "class",
    "booking",
    "alert",
    "document",
    "franchise",
    "gym",
    "user",
    "email",
    "device",
)
SLUGGED = {"gym": "gym_slug", "franchise": "franchise_slug", "kiosk": "kiosk_slug"}
# Fields whose value must not be the victim's: a stolen secret is not what is walked.
NOT_THE_VICTIMS = {"credential", "password", "code"}
# Except a provisioning code: the caller's own (an installer of its gym), so that a claim
# gets as far as binding the device it names, the victim's.
TOOL = "get_member_progress"  # the tool that reads the most about a member


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.path}"


@dataclass(frozen=True)
class Request:
    method: str
    url_path: str
    params: dict[str, Any]
    body: Any


def operations(spec: dict[str, Any]) -> list[Operation]:
    return [
        Operation(method, path, operation)
        for path, methods in sorted(spec["paths"].items())
        for method, operation in sorted(methods.items())
        if method in {"get", "post", "put", "patch", "delete"}
    ]


class Filler:
    """Builds one request per operation with the victim's real ids."""

    def __init__(self, spec: dict[str, Any], victim: Tenant, own_code: str) -> None:
        self.spec = spec
        self.victim = victim
        self.own_code = own_code

    def request(self, operation: Operation) -> Request:
        path = operation.path
        params: dict[str, Any] = {}
        for parameter in operation.spec.get("parameters", []):
            schema = self.resolve(parameter.get("schema", {}))
            name = parameter["name"]
            if parameter["in"] == "path":
                value = TOOL if name == "name" else self.value(name, schema, context=path)
                path = path.replace("{" + name + "}", str(value))
            elif parameter["in"] == "query" and (parameter.get("required") or self.kind_of(name)):
                params[name] = self.value(name, schema, context=path)
        body = None
        content = operation.spec.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            body = self.value("body", content["application/json"]["schema"], context=path)
        return Request(operation.method.upper(), path, params, body)

    # -- values --------------------------------------------------------------------------

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            schema = {**self.spec["components"]["schemas"][name], "x-name": name}
        return schema

    def kind_of(self, name: str, context: str = "") -> str | None:
        key = name.lower()
        if key in NOT_THE_VICTIMS:
            return None
        if key == "id":
            # A record's own id: what kind of record the enclosing schema or path says.
            key = context.lower()
        for kind in KINDS:
            if kind in key:
                return kind
        return None

    def value(self, name: str, schema: dict[str, Any], *, context: str) -> Any:
        schema = self.resolve(schema)
        for branch in ("anyOf", "oneOf"):
            if branch in schema:
                options = [s for s in schema[branch] if self.resolve(s).get("type") != "null"]
                return self.value(name, options[0], context=context)
        if "allOf" in schema:
            return self.value(name, schema["allOf"][0], context=context)
        if name == "code":
            return self.own_code
        kind = self.kind_of(name, context)
        kind_type = schema.get("type")
        if kind is not None and kind_type in ("string", None):
            return self.victims(kind, schema)
        if "enum" in schema:
            return schema["enum"][0]
        if "const" in schema:
            return schema["const"]
        if kind_type == "object" or "properties" in schema:
            return self.object(schema)
        if kind_type == "array":
            item = self.value(name, schema.get("items", {}), context=context)
            return [item] * max(1, schema.get("minItems", 1))
        if kind_type == "integer":
            return int(schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1))
        if kind_type == "number":
            return float(schema.get("minimum", 1))
        if kind_type == "boolean":
            return True
        return self.text(schema)

    def object(self, schema: dict[str, Any]) -> dict[str, Any]:
        required = set(schema.get("required", []))
        context = str(schema.get("x-name", ""))
        result = {}
        for field, sub in schema.get("properties", {}).items():
            if field in required or self.kind_of(field, context):
                result[field] = self.value(field, sub, context=context)
        return result

    def victims(self, kind: str, schema: dict[str, Any]) -> Any:
        ids = self.victim.ids
        if schema.get("format") == "uuid" or kind not in SLUGGED:
            value = ids[kind]
        else:
            value = ids[SLUGGED[kind]]
        return str(value)

    def text(self, schema: dict[str, Any]) -> str:
        fmt = schema.get("format")
        if fmt == "uuid":
            return str(uuid.uuid4())
        if fmt == "date-time":
            return datetime.now(UTC).isoformat()
        if fmt == "date":
            return date.today().isoformat()
        if fmt == "email":
            return "someone@example.com"
        pattern = schema.get("pattern")
        if pattern == r"^[a-z]{2}$":
            return "fr"
        text = "x" * max(1, schema.get("minLength", 1))
        if pattern and not re.search(pattern, text):
            text = "A1B2C3"  # codes and badges: letters and digits
        return text
