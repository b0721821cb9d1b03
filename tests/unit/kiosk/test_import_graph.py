"""No circles between the kiosk's modules: each imports only what sits below it.

Every import counts, at module level, inside functions and under TYPE_CHECKING alike: a
circle hidden in a function or a type hint is still two modules that cannot be understood,
tested or replaced one without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("contract", "hardware", "kiosk_agent", "provisioning")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in names if name in known}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                found.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_the_kiosk_modules_import_each_other_without_circles() -> None:
    known = modules()
    graph = {
        name: {i for i in imports(path, known) if i != name and not name.startswith(i + ".")}
        for name, path in known.items()
    }
    assert cycles(graph) == []


def test_the_hardware_layer_never_imports_the_agent() -> None:
    known = modules()
    upward = {
        (name, i)
        for name, path in known.items()
        if name.startswith(("hardware", "contract"))
        for i in imports(path, known)
        if i.startswith("kiosk_agent")
    }
    assert upward == set()
