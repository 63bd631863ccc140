"""Services import shared only, never each other; shared never imports a service."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _violations(package: Path, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in package.rglob("*.py"):
        for name in _imports(path):
            if name.startswith(forbidden):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


@pytest.mark.parametrize("service", ["goals", "performance", "feedback"])
def test_a_service_never_imports_another_service(service):
    others = tuple(f"services.{s}" for s in ("goals", "performance", "feedback") if s != service)
    assert _violations(ROOT / "services" / service, others) == []


def test_shared_never_imports_a_service():
    assert _violations(ROOT / "shared", ("services",)) == []


def test_the_check_itself_catches_a_cross_service_import(tmp_path):
    bad = tmp_path / "pkg"
    bad.mkdir()
    (bad / "m.py").write_text("from services.goals.domain import allocation\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert _violations(bad, ("services.goals",)) == ["pkg/m.py imports services.goals.domain"]
    finally:
        ROOT = saved
