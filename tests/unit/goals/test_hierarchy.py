"""Multi-level over-assignment is exact at every level; cycles are refused (properties)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.goals.domain.allocation import allocate
from services.goals.domain.hierarchy import (
    ChildTeam,
    RollupNode,
    check_parent,
    child_inputs,
    history_by_period,
    over_assigned_minor,
    over_assignment_warnings,
)
from shared.domain_errors import Conflict

pytestmark = pytest.mark.unit


def test_a_parent_cannot_be_its_own_descendant():
    """region <- a <- b: putting region under b is a cycle; under a fresh team it is fine."""
    links = {"region": None, "a": "region", "b": "a", "x": None}
    with pytest.raises(Conflict):
        check_parent("region", "b", links)
    with pytest.raises(Conflict):
        check_parent("a", "a", links)
    check_parent("region", "x", links)


def test_over_assignment_rounds_once_and_warns_above_five_percent():
    """round(total x 1.055) half up; 5 % is no warning, 5.5 % is."""
    assert over_assigned_minor(1_000_001, Decimal("5.5")) == 1_055_001
    assert over_assignment_warnings(Decimal(5)) == []
    assert over_assignment_warnings(Decimal("5.5"))


def test_child_history_sums_per_period_most_recent_first():
    """Members' results of the same period add up into one figure of the child team."""
    assert history_by_period([((2, 0), 5), ((1, 0), 7), ((2, 0), 1)]) == (6, 7)


@st.composite
def trees(draw, depth=0):
    n = draw(st.integers(1, 4)) if depth < 2 else 0
    return [
        {
            "capacity": Fraction(draw(st.integers(0, 30)), 2),
            "pct": Decimal(draw(st.integers(0, 200))) / 10,
            "children": draw(trees(depth + 1)),
        }
        for _ in range(n)
    ]


def _check(total: int, pct: Decimal, children: list[dict], method: str) -> None:
    if not children:
        return
    wanted = over_assigned_minor(total, pct)
    inputs = child_inputs(
        [ChildTeam(team_id=i, capacity=c["capacity"]) for i, c in enumerate(children)]
    )
    split = allocate(total_minor=wanted, method=method, members=inputs).targets
    assert sum(split.values()) == wanted
    again = allocate(total_minor=wanted, method=method, members=list(reversed(inputs))).targets
    assert again == split
    for i, child in enumerate(children):
        _check(split[i], child["pct"], child["children"], method)


@settings(max_examples=200, deadline=None)
@given(
    total=st.integers(0, 10**14),
    pct=st.integers(0, 200),
    tree=trees(),
    method=st.sampled_from(["equal", "capacity"]),
)
def test_children_add_up_to_the_over_assigned_parent_at_every_level(total, pct, tree, method):
    """At each level the child targets sum to round(parent x (1 + pct/100)), deterministically."""
    _check(total, Decimal(pct) / 10, tree, method)


@pytest.mark.parametrize(
    ("target", "achieved", "status"),
    [(None, 0, None), (0, 0, "no_target"), (0, -5, "no_target"), (0, 1, "on_track")],
)
def test_a_roll_up_with_a_zero_target_and_nothing_sold_is_no_target(target, achieved, status):
    node = RollupNode("t", "T", target, 0, achieved, achieved)
    assert node.status() == status
