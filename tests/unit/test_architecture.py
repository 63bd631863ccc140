"""The code keeps its layers: services import shared only, runtime code never imports devtools."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import sqlalchemy as sa

from shared.db import UtcDateTime

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("goals", "performance", "feedback")


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


@pytest.mark.parametrize("service", SERVICES)
def test_every_instant_column_is_a_utc_datetime(service):
    orm = importlib.import_module(f"services.{service}.adapters.orm")
    plain = [
        f"{table.name}.{column.name}"
        for table in orm.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, sa.DateTime) and not isinstance(column.type, UtcDateTime)
    ]
    assert plain == []


def test_no_helper_patches_naive_instants_any_more():
    # UtcDateTime hands back aware UTC on every database: as_utc/aware calls were its caveat.
    pattern = re.compile(r"(?<![\w.])(as_utc|aware)\(|import .*\b(as_utc|aware)\b")
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for package in ("shared", "services")
        for path in (ROOT / package).rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line.split("#")[0])
    ]
    assert found == []


def _mypy_checks(path: str) -> bool:
    """Whether `make lint`'s mypy checks a file: under [tool.mypy] files and not excluded."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    exclude = config.get("exclude", [])
    excluded = "|".join([exclude] if isinstance(exclude, str) else exclude)
    inside = any(path == f or path.startswith(f.rstrip("/") + "/") for f in config["files"])
    return inside and not (excluded and re.search(excluded, path))


def test_the_mypy_scope_is_read_from_pyproject():
    assert _mypy_checks("shared/http.py")
    assert _mypy_checks("services/goals/handlers/plans.py")
    assert _mypy_checks("services/performance/bootstrap.py")
    assert not _mypy_checks("services/goals/migrations/env.py")
    assert not _mypy_checks("tests/unit/test_architecture.py")
    assert not _mypy_checks("scripts/scenario.py")


def test_a_type_ignore_is_only_where_mypy_looks_and_says_what_and_why():
    # Elsewhere nothing checks types, so an ignore there would be a dead annotation.
    tracked = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    marker = "# type" + ": ignore"  # spelled in two parts so this file is not a hit itself
    explained = re.compile(re.escape(marker) + r"\[[\w\-, ]+\]\s+#\s*\S")
    found = [
        f"{path}:{n}"
        for path in tracked
        if "/migrations/" not in path and (ROOT / path).exists()
        for n, line in enumerate((ROOT / path).read_text().splitlines(), 1)
        if marker in line and not (_mypy_checks(path) and explained.search(line))
    ]
    assert found == []


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


# --------------------------------------------------------------------------- one shape per layer


def _targets(path: Path) -> set[str]:
    """Every module (or module.name) a file imports, so `from x import orm` reads as x.orm."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _files(pattern: str) -> list[Path]:
    return sorted(p for p in ROOT.glob(pattern) if "/migrations/" not in str(p))


def _importing(pattern: str, forbidden: str) -> set[str]:
    found = set()
    for path in _files(pattern):
        if any(re.match(forbidden, name) for name in _targets(path)):
            found.add(str(path.relative_to(ROOT)))
    return found


def test_a_domain_imports_no_adapter_handler_or_route():
    assert (
        _importing("services/*/domain/**/*.py", r"services\.\w+\.(adapters|handlers|api)") == set()
    )


def test_handlers_and_adapters_never_import_the_api_layer():
    for layer in ("handlers", "adapters"):
        assert _importing(f"services/*/{layer}/**/*.py", r"services\.\w+\.api\b") == set()


def test_the_api_layer_never_imports_the_orm_models():
    # Schemas state what they read (a Protocol, or from_attributes); routes take handlers' results.
    found = _importing("services/*/api/**/*.py", r"services\.\w+\.adapters\.orm\b")
    assert found == set(), "map from what the handler returns, not from the table models"


def _session_uses(path: Path) -> int:
    # uow.session, uow.repo.session or any other reach for a session object.
    return len(re.findall(r"\.session\b", path.read_text()))


def test_handlers_and_routes_reach_the_database_through_repositories():
    found = {
        str(p.relative_to(ROOT)): n
        for layer in ("handlers", "api")
        for p in _files(f"services/*/{layer}/**/*.py")
        if (n := _session_uses(p))
    }
    assert found == {}, "add a repository method instead of using the session"


def _repository_methods(path: Path) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        method
        for cls in tree.body
        if isinstance(cls, ast.ClassDef)
        for method in cls.body
        if isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


@pytest.mark.parametrize("service", SERVICES)
def test_repositories_take_org_id_by_keyword_and_return_rows(service):
    positional, builders = [], []
    for path in _files(f"services/{service}/adapters/*repositor*.py"):
        for method in _repository_methods(path):
            names = [a.arg for a in method.args.posonlyargs + method.args.args]
            if {"org", "org_id"} & set(names):
                positional.append(f"{path.name}:{method.name}")
            if method.returns is not None and "Select" in ast.unparse(method.returns):
                builders.append(f"{path.name}:{method.name}")
    assert (positional, builders) == ([], [])


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_names_its_route_dependencies_alike(service):
    deps = importlib.import_module(f"services.{service}.api.deps")
    assert {"RuntimeDep", "UowDep", "NowDep"} <= set(vars(deps))
    assert {"Runtime", "Uow", "Now"} & set(vars(deps)) == set(), "one name per dependency"


def test_routes_document_problems_through_problem_responses():
    # One helper (shared.problems.problem_responses), not a wrapper or a dict per route file.
    found = [
        str(p.relative_to(ROOT))
        for p in _files("services/*/api/**/*.py")
        if "PROBLEM_RESPONSES" in p.read_text()
    ]
    assert found == []


def test_routes_read_the_time_from_now_dep():
    # The runtime's clock, so a test can freeze what a route calls now.
    pattern = re.compile(r"\b(datetime\.now|utcnow)\(")
    found = [
        str(p.relative_to(ROOT))
        for p in _files("services/*/api/**/*.py")
        if pattern.search(p.read_text())
    ]
    assert found == []


def test_the_layer_checks_see_what_they_look_for(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "from services.goals.adapters import orm\nasync def f(uow):\n    uow.session\n"
    )
    assert "services.goals.adapters.orm" in _targets(module)
    assert _session_uses(module) == 1
