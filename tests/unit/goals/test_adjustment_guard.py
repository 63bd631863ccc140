"""The adjustment guard flags only lifts across 100 %; concentration is exact."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.goals.domain.adjustment_guard import (
    TeamLevel,
    adjustment_profile,
    concentration,
    teams_lifted,
)

pytestmark = pytest.mark.unit


@settings(max_examples=300, deadline=None)
@given(projected=st.integers(0, 10**9), before=st.integers(0, 10**9), after=st.integers(0, 10**9))
def test_only_a_lift_from_below_to_at_least_100_percent_is_flagged(
    projected: int, before: int, after: int
) -> None:
    """Flagged exactly when the team was short of its total and is not any more."""
    lifted = teams_lifted([TeamLevel("t", projected, before, after)])
    assert (lifted == ["t"]) == (projected < before and projected >= after)


def test_a_lowered_total_that_still_falls_short_or_a_raised_one_is_not_flagged() -> None:
    """90 % to 95 % is no lift; 110 % to 90 % works against the manager."""
    assert teams_lifted([TeamLevel("t", 270, 300, 285)]) == []
    assert teams_lifted([TeamLevel("t", 330, 300, 370)]) == []
    assert teams_lifted([TeamLevel("t", 270, 300, 260)]) == ["t"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcde"), st.integers(1, 10**6)), min_size=1))
def test_concentration_sums_shares_to_one_and_bounds_the_index(rows) -> None:
    """Shares add up to 1; 1/n <= HHI <= 1; the top share is at least 1/n."""
    c = concentration(rows)
    n = len(c.by_member)
    assert c.total_minor == sum(a for _, a in rows)
    assert sum(Fraction(a, c.total_minor) for a in c.by_member.values()) == 1
    assert Fraction(1, n) <= c.herfindahl <= 1 and c.top_share >= Fraction(1, n)


def test_the_profile_splits_relief_from_uplift() -> None:
    """Negative deltas are relief, positive uplift; one rep with all relief has HHI 1."""
    p = adjustment_profile([("a", -300), ("b", 100), ("a", -100), ("c", 100)])
    assert p.relief.by_member == {"a": 400} and p.relief.herfindahl == 1
    assert p.uplift.total_minor == 200 and p.uplift.top_share == Fraction(1, 2)
    assert p.uplift.herfindahl == Fraction(1, 2)
