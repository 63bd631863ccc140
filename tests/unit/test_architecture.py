"""The code keeps its layers: services import shared only, runtime code never imports devtools."""

from __future__ import annotations

import ast
import re
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


def test_runtime_code_never_imports_the_development_tools():
    found = _violations(ROOT / "shared", ("devtools",)) + _violations(
        ROOT / "services", ("devtools",)
    )
    assert found == []


def test_the_image_ships_no_development_tools():
    copied = re.findall(r"^COPY (.+) \S+$", (ROOT / "Dockerfile").read_text(), flags=re.M)
    sources = [src for line in copied for src in line.split()]
    assert not [s for s in sources if s.startswith("devtools")]
    assert "devtools" in (ROOT / ".dockerignore").read_text().split()
    shipped_scripts = [ROOT / s for s in sources if s.startswith("scripts/")]
    assert shipped_scripts, "the image copies scripts/ file by file"
    assert [n for p in shipped_scripts for n in _imports(p) if n.startswith("devtools")] == []


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
