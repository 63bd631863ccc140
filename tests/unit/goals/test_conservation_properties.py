"""Departures and dispute adjustments keep the team total too (property tests)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.goals.domain.rebalancing import (
    MemberPosition,
    RebalancePolicy,
    plan_adjustment,
    plan_departure,
)
from shared.domain_errors import Conflict

pytestmark = pytest.mark.unit


@st.composite
def teams(draw):
    n = draw(st.integers(2, 8))
    team = []
    for i in range(n):
        target = draw(st.integers(0, 10**7))
        achieved = draw(st.integers(0, target))
        team.append(
            MemberPosition(
                member_id=f"m{i}",
                target_minor=target,
                original_target_minor=draw(st.integers(0, 10**7)),
                achieved_minor=achieved,
                projected_minor=draw(st.integers(0, 2 * 10**7)),
                status=draw(st.sampled_from(["on_track", "at_risk", "struggling"])),
            )
        )
    return team


def _after(team, new_targets):
    return {p.member_id: new_targets.get(p.member_id, p.target_minor) for p in team}


@settings(max_examples=200, deadline=None)
@given(teams(), st.integers(0, 100))
def test_a_departure_keeps_the_team_total_and_leaves_the_leaver_on_what_they_sold(team, pct):
    plan = plan_departure(leaver_id="m0", team=team, policy=RebalancePolicy(max_increase_pct=pct))
    after = _after(team, plan.new_targets)
    assert sum(after.values()) == sum(p.target_minor for p in team)
    assert after["m0"] == team[0].achieved_minor
    assert all(after[p.member_id] >= p.target_minor for p in team[1:])


@settings(max_examples=200, deadline=None)
@given(teams(), st.integers(-(10**7), 10**7), st.booleans())
def test_an_adjustment_changes_the_total_only_when_the_action_says_so(team, delta, total_moves):
    delta = max(delta, -team[0].target_minor)
    try:
        plan = plan_adjustment(
            member_id="m0", delta_minor=delta, team=team, team_total_changes=total_moves
        )
    except Conflict:
        # Only refused when the others cannot give up enough without dropping below their sales.
        assert not total_moves and delta > 0
        assert sum(p.target_minor - p.achieved_minor for p in team[1:]) < delta
        return
    after = _after(team, plan.new_targets)
    expected = sum(p.target_minor for p in team) + (delta if total_moves else 0)
    assert sum(after.values()) == expected
    assert after["m0"] == team[0].target_minor + delta
    assert all(after[p.member_id] >= p.achieved_minor for p in team[1:])
