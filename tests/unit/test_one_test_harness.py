"""Tests speak as someone only through tests/harness.py: no second dialect of role headers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
HARNESS = TESTS / "harness.py"
#: What makes a development token or its headers; only the harness wraps these.
MINTERS = {"mint", "bearer_token", "bearer", "authorization", "as_admin", "as_manager", "as_rep"}
#: The harness's role helpers: the one name each role has.
ROLE_HELPERS = {"as_admin", "as_manager", "as_rep"}
#: The names of the retired dialects (goals/performance `admin()`, feedback `boss()`, ...).
OLD_ROLE_METHODS = {"admin", "manager", "boss", "rep"}
#: Modules that mint beside the harness, and why.
MINTING_ALLOWED = {
    # The token tool's own tests.
    "tests/unit/test_dev_tokens.py",
    # Signs with the deployment's .env secret, which production demands (dev tokens are refused).
    "tests/e2e/test_compose_topology.py",
}


def _called(node: ast.AST) -> str | None:
    """The name a call calls (`f(...)` or `x.f(...)`), else None."""
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name):
            return node.func.id
        if isinstance(node.func, ast.Attribute):
            return node.func.attr
    return None


def _is_a_token(value: ast.expr) -> bool:
    """Whether an expression is what a minter made: its call, or headers or a tuple holding one."""
    if isinstance(value, ast.Await):
        return _is_a_token(value.value)
    if isinstance(value, ast.BinOp):  # headers | more headers
        return _is_a_token(value.left) or _is_a_token(value.right)
    if isinstance(value, ast.Dict) and any(
        isinstance(k, ast.Constant) and str(k.value).lower() == "authorization" for k in value.keys
    ):
        return True  # an Authorization header built by hand (tests.harness.authorization is one)
    if isinstance(value, ast.Dict | ast.JoinedStr):
        return any(_is_a_token(v) for v in value.values)
    if isinstance(value, ast.Tuple | ast.List):
        return any(_is_a_token(v) for v in value.elts)
    if isinstance(value, ast.FormattedValue):
        return _is_a_token(value.value)
    return _called(value) in MINTERS


def _own_returns(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.expr]:
    """The values the function itself returns (not those of functions nested in it)."""
    values, pending = [], list(function.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        if isinstance(node, ast.Return) and node.value is not None:
            values.append(node.value)
        pending.extend(ast.iter_child_nodes(node))
    return values


def _returns_a_token(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether the function hands out a token or role headers."""
    return any(_is_a_token(value) for value in _own_returns(function))


def harness_bypasses(source: str, where: str) -> list[str]:
    """Where a test module (at `where`) mints, imports a retired helper, or calls an old role."""
    may_mint, in_e2e = where in MINTING_ALLOWED, where.startswith("tests/e2e/")
    found = []
    for node in ast.walk(ast.parse(source, filename=where)):
        if isinstance(node, ast.ImportFrom) and node.module == "tests.conftest":
            for alias in node.names:
                if alias.name in MINTERS | {"token", "auth"}:
                    found.append(f"{where}:{node.lineno} imports {alias.name} from tests.conftest")
        if isinstance(node, ast.ImportFrom) and node.module == "devtools.tokens":
            if "mint" in {a.name for a in node.names} and not may_mint:
                found.append(f"{where}:{node.lineno} mints with devtools.tokens")
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name | ast.Attribute):
            if ast.unparse(node.value).rsplit(".", 1)[-1] in MINTERS:  # token = bearer_token
                found.append(f"{where}:{node.lineno} aliases {ast.unparse(node.value)}")
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if node.name not in ROLE_HELPERS and not may_mint and _returns_a_token(node):
                found.append(f"{where}:{node.lineno} def {node.name} makes role headers")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            # In e2e, `team.rep(name)` is the scenario's lookup of a rep by name, not headers.
            if node.func.attr in OLD_ROLE_METHODS and not (node.func.attr == "rep" and in_e2e):
                found.append(f"{where}:{node.lineno} calls .{node.func.attr}()")
    return found


def test_every_test_module_speaks_through_the_harness():
    modules = sorted(p for p in TESTS.rglob("*.py") if p not in (HARNESS, Path(__file__)))
    found = [
        hit
        for path in modules
        for hit in harness_bypasses(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert found == []


@pytest.mark.parametrize(
    ("source", "hit"),
    [
        ("from tests.conftest import auth\n", "imports auth from tests.conftest"),
        ("from devtools.tokens import mint\n", "mints with devtools.tokens"),
        ("token = bearer_token\n", "aliases bearer_token"),
        ("class App:\n    def admin(self):\n        return as_admin(self.org)\n", "def admin"),
        ("def _manager(*teams):\n    return bearer(org=ORG, teams=teams)\n", "def _manager"),
        ("def boss(t):\n    return {'X': 1} | bearer(org=t.org, roles=['manager'])\n", "def boss"),
        (
            "def _bearer(org):\n    t = mint(org=org)\n    return {'authorization': t}\n",
            "def _bearer",
        ),
        ("async def test_x(goals):\n    goals.admin()\n", "calls .admin()"),
        ("async def test_x(team):\n    team.boss()\n", "calls .boss()"),
        ("async def test_x(g, s):\n    g.rep(s.team_id, 1)\n", "calls .rep()"),
    ],
)
def test_the_check_catches_each_other_dialect(source, hit):
    found = harness_bypasses(source, "tests/integration/goals/test_probe.py")
    assert len(found) == 1 and hit in found[0], found


def test_the_check_lets_the_harness_dialect_and_a_scenario_lookup_through():
    source = (
        "from tests.harness import as_admin, bearer\n"
        "async def test_x(goals, team):\n"
        "    goals.as_manager(team.id, sub=team.manager)\n"
        "    stranger = as_admin(uuid.uuid4())\n"
        "    ana = team.rep('Ana')\n"
        "class Team:\n"
        "    def as_rep(self, member):\n"
        "        return as_rep(self.org, member, team=self.id)\n"
    )
    assert harness_bypasses(source, "tests/e2e/test_probe.py") == []
    assert harness_bypasses(source, "tests/integration/test_probe.py") == [
        "tests/integration/test_probe.py:5 calls .rep()"
    ]
