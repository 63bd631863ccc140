"""A rep nobody talked to is held back; the others of the same decision still move."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.goals.domain.rebalancing import RebalancePolicy
from services.goals.domain.team_rebalance import (
    NO_CONVERSATION,
    Planned,
    Skipped,
    decide_rebalance,
)
from tests.unit.goals.test_team_rebalance import AUTO, OPEN, rep

pytestmark = pytest.mark.unit

WAIT = RebalancePolicy(mode="auto", require_checkin_before_rebalance=True)


def _team():
    return [
        rep(1, 100_000, 40_000, "struggling"),
        rep(2, 100_000, 40_000, "struggling"),
        rep(3, 100_000, 200_000, "on_track"),
        rep(4, 100_000, 200_000, "on_track"),
    ]


def test_only_the_rep_talked_to_gives_and_the_other_is_listed_with_the_reason():
    team = _team()
    context = dataclasses.replace(OPEN, conversed=frozenset({team[0].member_id}))
    decision = decide_rebalance(
        givers=[team[0].member_id, team[1].member_id], team=team, policy=WAIT, context=context
    )
    assert isinstance(decision, Planned)
    first, second = decision.plan.givers
    assert first.held_back is None and first.moved_minor == 25_000 * 2
    assert second.held_back == NO_CONVERSATION
    assert second.moved_minor == 0 and second.uncovered_minor == second.requested_minor == 60_000
    assert {t.from_member for t in decision.plan.transfers} == {team[0].member_id}
    assert decision.plan.requested_minor == 120_000


def test_nobody_talked_to_is_a_skip_with_the_reason_and_the_switch_off_ignores_it():
    team = _team()
    givers = [team[0].member_id, team[1].member_id]
    skipped = decide_rebalance(givers=givers, team=team, policy=WAIT, context=OPEN)
    assert isinstance(skipped, Skipped) and skipped.reason == NO_CONVERSATION
    assert all(g.held_back == NO_CONVERSATION for g in skipped.plan.givers)
    assert not skipped.plan.transfers
    moved = decide_rebalance(givers=givers, team=team, policy=AUTO, context=OPEN)
    assert isinstance(moved, Planned) and all(g.held_back is None for g in moved.plan.givers)


@given(st.sets(st.sampled_from([0, 1]), max_size=2))
def test_held_back_givers_never_give_and_the_accounting_stays_exact(talked):
    team = _team()
    conversed = frozenset(team[i].member_id for i in talked)
    context = dataclasses.replace(OPEN, conversed=conversed)
    decision = decide_rebalance(
        givers=[team[0].member_id, team[1].member_id], team=team, policy=WAIT, context=context
    )
    givers_moved = {t.from_member for t in decision.plan.transfers}
    assert givers_moved <= conversed
    for g in decision.plan.givers:
        assert g.moved_minor + g.uncovered_minor == g.requested_minor
        assert (g.held_back is None) == (g.member_id in conversed)
