"""Tests read only files inside the repository: a clone with nothing beside it must pass."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("tests", "bench", "scripts")
PARENT_DIR = ".." + "/"  # spelled apart so this module does not flag itself


def _is_path_of_file(node: ast.AST) -> bool:
    """`Path(__file__)`, optionally followed by `.resolve()` or `.absolute()`."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr in {"resolve", "absolute"} and not node.args:
            return _is_path_of_file(node.func.value)
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "Path"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Name)
        and node.args[0].id == "__file__"
    )


def _levels_up(node: ast.AST) -> int | None:
    """How many directories above the file's own a `Path(__file__)...` chain climbs, if it is one."""
    if _is_path_of_file(node):
        return -1  # the file itself; `.parent` brings it to its folder (level 0)
    if isinstance(node, ast.Attribute) and node.attr == "parent":
        inner = _levels_up(node.value)
        return None if inner is None else inner + 1
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "parents"
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, int)
    ):
        inner = _levels_up(node.value.value)
        return None if inner is None else inner + 1 + node.slice.value
    return None


def escapes(path: Path, root: Path) -> list[str]:
    """Places in one module that build a path above the repository root."""
    tree = ast.parse(path.read_text(), filename=str(path))
    depth = len(path.resolve().parent.relative_to(root).parts)
    climbs: dict[int, int] = {}
    named: list[str] = []
    for node in ast.walk(tree):
        levels = _levels_up(node)
        if levels is not None and levels > depth:
            # A chain is visited once per link: report the whole chain, its highest climb.
            climbs[node.lineno] = max(levels, climbs.get(node.lineno, 0))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.startswith(PARENT_DIR):
                named.append(f"{path.relative_to(root)}:{node.lineno} names {node.value!r}")
    where = path.relative_to(root)
    return sorted([f"{where}:{line} climbs {n} levels" for line, n in climbs.items()] + named)


def test_no_test_or_tool_builds_a_path_outside_the_repository():
    found = [
        hit for folder in SCANNED for p in (ROOT / folder).rglob("*.py") for hit in escapes(p, ROOT)
    ]
    assert found == []


def test_the_check_catches_a_climb_past_the_root(tmp_path):
    module = tmp_path / "tests" / "unit" / "m.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "from pathlib import Path\n"
        # Built from parts, so this module itself names no path outside the repository.
        f"OK = Path(__file__).resolve().parents[{2}] / 'x'\n"
        f"BAD = Path(__file__).resolve().parents[{3}]{'.parent'} / 'kit'\n"
        f"ALSO_BAD = '{PARENT_DIR}kit/fixtures'\n"
    )
    assert escapes(module, tmp_path) == [
        "tests/unit/m.py:3 climbs 4 levels",
        f"tests/unit/m.py:4 names '{PARENT_DIR}kit/fixtures'",
    ]


def test_crm_vectors_are_carried_in_the_repository():
    crm = ROOT / "tests" / "fixtures" / "crm"
    assert sorted(p.name for p in crm.iterdir() if p.suffix in {".json", ".xml"}) == [
        "generic_sale.json",
        "generic_sale_lost.json",
        "hubspot_deal_closedwon.json",
        "hubspot_deal_custom_pipeline.json",
        "hubspot_deal_object.json",
        "hubspot_deal_object_custom_lost.json",
        "hubspot_deal_object_custom_won.json",
        "pipedrive_deal_lost_v2.json",
        "pipedrive_deal_won_v2.json",
        "salesforce_outbound_opportunity.xml",
        "salesforce_outbound_opportunity_lost.xml",
    ]
