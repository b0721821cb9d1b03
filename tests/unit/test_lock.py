"""uv.lock is what every install uses: it must say exactly what pyproject.toml asks for.

`scripts/bootstrap.sh` (and so CI) and the kiosk's installer install from the lock with
`uv sync --locked`, which refuses a lock that disagrees with pyproject.toml; this test says so
sooner, without a network, and names the difference.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]

# (name, extras, extra it belongs to or "", version specifier)
Wanted = tuple[str, frozenset[str], str, str]


def _key(name: str, extras: Any, extra: str, specifier: str) -> Wanted:
    spec = str(SpecifierSet(specifier)) if specifier else ""
    return canonicalize_name(name), frozenset(extras or ()), extra, spec


def pyproject_requirements(pyproject: dict[str, Any]) -> set[Wanted]:
    project = pyproject["project"]
    wanted = {_req(line, "") for line in project.get("dependencies", [])}
    for extra, lines in project.get("optional-dependencies", {}).items():
        wanted |= {_req(line, extra) for line in lines}
    return wanted


def _req(line: str, extra: str) -> Wanted:
    req = Requirement(line)
    return _key(req.name, req.extras, extra, str(req.specifier))


def lock_requirements(lock: dict[str, Any], project_name: str) -> set[Wanted]:
    (root,) = [p for p in lock["package"] if p["name"] == project_name]
    locked = set()
    for entry in root["metadata"]["requires-dist"]:
        match = re.search(r"extra == '([^']+)'", entry.get("marker", ""))
        locked.add(
            _key(
                entry["name"],
                entry.get("extras"),
                match.group(1) if match else "",
                entry.get("specifier", ""),
            )
        )
    return locked


def test_the_lock_records_exactly_what_pyproject_asks_for() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    wanted = pyproject_requirements(pyproject)
    locked = lock_requirements(lock, pyproject["project"]["name"])
    assert wanted == locked, (
        "pyproject.toml and uv.lock disagree: run `.venv/bin/uv lock` and commit uv.lock.\n"
        f"  only in pyproject.toml: {sorted(map(str, wanted - locked))}\n"
        f"  only in uv.lock: {sorted(map(str, locked - wanted))}"
    )


def test_every_locked_package_is_pinned_with_hashes() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    for package in lock["package"]:
        if "editable" in package["source"]:
            continue
        assert package.get("version"), f"{package['name']} has no exact version in uv.lock"
        artifacts = [
            *package.get("wheels", []),
            *([package["sdist"]] if "sdist" in package else []),
        ]
        assert artifacts, f"{package['name']} has no artifact in uv.lock"
        for artifact in artifacts:
            assert artifact.get("hash", "").startswith("sha256:"), (
                f"{package['name']}: an artifact without a sha256 hash"
            )


def test_the_bootstrap_uv_is_the_locked_uv() -> None:
    """requirements/uv.txt installs uv before the lock can; both must name one version."""
    pinned = re.search(r"^uv==(\S+)", (ROOT / "requirements/uv.txt").read_text(), re.M)
    assert pinned, "requirements/uv.txt pins no uv version"
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    (locked,) = [p["version"] for p in lock["package"] if p["name"] == "uv"]
    assert pinned.group(1) == locked
    assert "--hash=sha256:" in (ROOT / "requirements/uv.txt").read_text()


def test_the_comparison_sees_a_difference() -> None:
    """The check above is only worth something if a drifted pyproject fails it."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    drifted = dict(pyproject["project"])
    drifted["dependencies"] = [*drifted["dependencies"], "jinja2>=3.1"]
    bumped = dict(pyproject["project"])
    bumped["dependencies"] = [
        re.sub(r">=[\d.]+", ">=99", dep, count=1) for dep in bumped["dependencies"]
    ]
    locked = lock_requirements(lock, pyproject["project"]["name"])
    assert pyproject_requirements({"project": drifted}) != locked
    assert pyproject_requirements({"project": bumped}) != locked
