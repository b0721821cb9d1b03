"""SQL lives only in the data layer (`cloud_api/data/`), the database infrastructure and the
seeders: routes validate, call, map, and the CLI calls the same data functions.

The scan reads every string constant of `cloud_api` (docstrings aside) through the AST and
fails on anything shaped like a SQL statement outside the modules allowed below.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "cloud_api"

# Where SQL may be written, and why.
ALLOWED = {
    # The data layer: one module per domain, the only SQL the API and the CLI run.
    "cloud_api/data/": "the data layer",
    # Infrastructure under the data layer: the transaction's claims (`set_config`), the
    # migration runner, the embedded server's bootstrap, the connectivity probe.
    "cloud_api/db/": "database infrastructure",
    # Bulk generators run once by an operator as the database owner (COPY, generate_series):
    # they share nothing with a request's path and would only be slowed by per-row calls.
    "cloud_api/seed/": "demo and scale data generators",
}

SQL = re.compile(
    r"""
    \bselect\b[\s\S]+?\bfrom\b                 # select ... from
    | ^\s*select\s+(\*|\d|%|[\w.]+\s*\(|[\w.]+\s*,|[\w.]+\s+as\b)  # select f(), *, 1, a, b
    | \binsert\s+into\b
    | \bupdate\s+[\w.]+(\s+\w+)?\s+set\b
    | \bdelete\s+from\b
    | \bset_config\s*\(
    | \bpg_advisory\w*\s*\(
    | ^\s*(with\s+\w+\s+as\s*\(|create\s+(table|index|function)|alter\s+table|copy\s+\w)
    """,
    re.IGNORECASE | re.VERBOSE,
)


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def sql_strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and SQL.search(node.value)
        ):
            found.append((node.lineno, " ".join(node.value.split())[:80]))
    return found


def allowed(relative: str) -> bool:
    return any(relative.startswith(prefix) for prefix in ALLOWED)


def test_no_sql_outside_the_data_layer() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if allowed(relative):
            continue
        offenders += [f"{relative}:{line}: {text}" for line, text in sql_strings(path)]
    assert offenders == [], (
        "SQL outside cloud_api/data (move it into a data module):\n" + "\n".join(offenders)
    )


def test_the_data_layer_really_holds_the_sql() -> None:
    """The scan must recognise the statements it polices (else it cannot fail)."""
    for module in ("reports", "members", "identity", "kiosks", "users", "voice", "classes"):
        assert sql_strings(PACKAGE / "data" / f"{module}.py"), module


@pytest.mark.parametrize(
    ("text", "is_sql"),
    [
        ("select private.kiosk_id() as id", True),
        ("select * from private.claim_kiosk(%s)", True),
        ("select 1", True),
        ("select %s < now() as stale", True),
        ("select pg_advisory_xact_lock(hashtextextended(%s, 0))", True),
        ("insert into audit_log (a) values (%s)", True),
        ("update kiosks k set status = 'offline'", True),
        ("delete from x where y", True),
        ("with k as (select 1) select * from k", True),
        ("Select the gym first, then try again.", False),
        ("This provisioning code has already been used. Ask the gym for a new one.", False),
        ("Choose a class from the schedule.", False),
    ],
)
def test_what_counts_as_sql(text: str, is_sql: bool) -> None:
    assert bool(SQL.search(text)) is is_sql
