"""Error codes are part of the contract: every code the cloud raises is documented in
docs/API.md with its status, every documented code is raised, and no code is ever made from
a free string."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from cloud_api.errors import ApiError, error_body
from contract.errors import HTTP_STATUS, ErrorCode

ROOT = Path(__file__).resolve().parents[2]
CLOUD = ROOT / "cloud_api"
API_DOC = ROOT / "docs" / "API.md"

# Everything that carries an error code, and the position of the code among its arguments.
CODE_CARRIERS = {
    "ApiError": 0,
    "error_body": 0,
    "refusal": 0,
    "KioskTokenError": 0,
    "UserTokenError": 0,
    "MintError": 0,
}


def _trees() -> list[tuple[str, ast.AST]]:
    return [
        (path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(), filename=str(path)))
        for path in sorted(CLOUD.rglob("*.py"))
    ]


def raised_codes() -> set[str]:
    """Every `ErrorCode.X` the cloud's code names (routes, dependencies, the handler table)."""
    names = set()
    for _, tree in _trees():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "ErrorCode"
            ):
                names.add(node.attr)
    unknown = names - set(ErrorCode.__members__)
    assert not unknown, f"not ErrorCode members: {unknown}"
    return {ErrorCode[name].value for name in names}


def documented_codes() -> dict[str, str]:
    """code → status column of the table in docs/API.md's "Errors" section."""
    text = API_DOC.read_text()
    section = text[text.index("## Errors") :]
    section = section[: section.index("\n## ", 1)]
    rows = re.findall(r"^\| `([a-z_]+)` \| ([^|]+) \|", section, re.MULTILINE)
    codes = [code for code, _ in rows]
    assert len(codes) == len(set(codes)), "a code is listed twice"
    return {code: status.strip() for code, status in rows}


def test_every_code_is_raised_and_documented_with_its_status() -> None:
    raised = raised_codes()
    documented = documented_codes()
    members = {code.value for code in ErrorCode}
    assert sorted(members - raised) == [], "codes never raised: remove them from ErrorCode"
    assert sorted(set(documented) - members) == [], "documented codes that do not exist"
    assert sorted(raised - set(documented)) == [], "raised codes missing from docs/API.md"
    for code in ErrorCode:
        status = documented[code.value]
        if code in HTTP_STATUS:
            assert status == str(HTTP_STATUS[code]), code
        else:  # only `http_error` has no status of its own
            assert code is ErrorCode.HTTP_ERROR
            assert not status.isdigit(), status


def test_the_scan_sees_what_it_polices() -> None:
    """The handler table and the routes are in the scan (else the test above cannot fail)."""
    raised = raised_codes()
    assert {"internal_error", "validation_failed", "not_found", "code_used"} <= raised


def _free_code_arguments() -> list[str]:
    found = []
    for relative, tree in _trees():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name == "ErrorCode":
                found.append(f"{relative}:{node.lineno}: ErrorCode(...) built from a value")
                continue
            if name not in CODE_CARRIERS:
                continue
            position = CODE_CARRIERS[name]
            code = next((k.value for k in node.keywords if k.arg == "code"), None)
            if code is None and len(node.args) > position:
                code = node.args[position]
            if code is None or isinstance(code, ast.Constant | ast.JoinedStr | ast.BinOp):
                found.append(f"{relative}:{node.lineno}: {name} without an ErrorCode member")
    return found


def test_no_code_is_built_from_a_free_string() -> None:
    assert _free_code_arguments() == []


def test_a_string_is_refused_at_run_time_too() -> None:
    with pytest.raises(TypeError):
        ApiError("not_found", "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        error_body("not_found", "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):  # no fixed status: only the HTTP layer's handler uses it
        ApiError(ErrorCode.HTTP_ERROR, "x")
    error = ApiError(ErrorCode.CODE_EXPIRED, "x")
    assert (error.status, error.code) == (410, ErrorCode.CODE_EXPIRED)
