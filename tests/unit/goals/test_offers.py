"""Consent offers: what each rep is offered, their answers, and the water-fill over accepted room."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.goals.domain.offers import Offer, OfferRound, accept, with_answer
from services.goals.domain.rebalancing import RebalancePolicy, cap_room_minor, lowest_target_minor
from services.goals.domain.team_rebalance import (
    DecisionContext,
    Offered,
    decide_rebalance,
    plan_team_rebalance,
    uplift_offers,
)
from shared.domain_errors import Conflict, InvalidInput
from tests.unit.goals.test_team_rebalance import rep, teams

pytestmark = pytest.mark.unit

NOW = datetime(2026, 2, 10, tzinfo=UTC)
OPEN = DecisionContext(plan_published=True, as_of=NOW, period_ends_at=NOW + timedelta(days=40))
OFFER = RebalancePolicy(mode="offer")


def test_mode_offer_offers_each_on_track_rep_its_cap_room_and_moves_nothing():
    team = [
        rep(0, 100_000, 40_000, "struggling"),
        rep(1, 100_000, 150_000, "on_track"),
        rep(2, 100_000, 100_000, "on_track"),  # no headroom: not asked
        rep(3, 100_000, 150_000, "at_risk"),
        rep(4, 0, 0, "no_target"),
    ]
    decision = decide_rebalance(givers=[UUID(int=0)], team=team, policy=OFFER, context=OPEN)
    assert isinstance(decision, Offered)
    assert decision.offers == {UUID(int=1): 25_000}
    assert decision.plan.transfers == () and decision.plan.requested_minor == 60_000


def test_an_offer_never_exceeds_what_the_givers_can_give():
    team = [rep(0, 100_000, 90_000, "struggling"), rep(1, 1_000_000, 2_000_000, "on_track")]
    # 10 000 short, and the receiver has 250 000 of room under the cap.
    assert uplift_offers(givers=[UUID(int=0)], team=team, policy=OFFER) == {UUID(int=1): 10_000}


@settings(max_examples=300)
@given(teams, st.data())
def test_the_water_fill_over_accepted_room_is_exact_and_within_each_answer(case, data):
    team, givers = case
    offers = uplift_offers(givers=givers, team=team, policy=OFFER)
    accepted = {k: data.draw(st.integers(0, v)) for k, v in offers.items()}
    plan = plan_team_rebalance(givers=givers, team=team, policy=OFFER, accepted=accepted)
    assert plan.moved_minor + plan.uncovered_minor == plan.requested_minor
    assert all(g.moved_minor + g.uncovered_minor == g.requested_minor for g in plan.givers)
    assert sum(plan.new_targets.values()) == sum(
        p.target_minor for p in team if p.member_id in plan.new_targets
    )
    taken: dict[UUID, int] = {}
    for t in plan.transfers:
        taken[t.to_member] = taken.get(t.to_member, 0) + t.amount_minor
    assert all(taken[k] <= accepted.get(k, 0) for k in taken)
    index = {p.member_id: p for p in team}
    givable = sum(
        max(
            min(
                max(index[g].target_minor - index[g].projected_minor, 0),
                index[g].target_minor
                - max(
                    index[g].floor_minor, lowest_target_minor(index[g].original_target_minor, OFFER)
                ),
            ),
            0,
        )
        for g in set(givers)
    )
    # Only the accepted room is used, all of it while the givers can give.
    assert plan.moved_minor == min(sum(accepted.values()), givable)
    # Every offer accepted in full places what the water-fill alone would.
    everything = plan_team_rebalance(givers=givers, team=team, policy=OFFER, accepted=offers)
    assert everything == plan_team_rebalance(givers=givers, team=team, policy=OFFER)
    assert all(v <= cap_room_minor(index[k], OFFER) for k, v in offers.items())


EXPIRES = NOW + timedelta(hours=48)


def _round(*offered: int) -> OfferRound:
    return OfferRound(tuple(Offer(UUID(int=i), v) for i, v in enumerate(offered, 1)), EXPIRES)


def test_an_answer_is_at_most_the_offer_once_and_before_expiry():
    round_ = _round(25_000, 10_000)
    part = accept(round_, UUID(int=1), 5_000, NOW)
    assert part.accepted_minor == 5_000
    with pytest.raises(InvalidInput):
        accept(round_, UUID(int=2), 10_001, NOW)
    with pytest.raises(InvalidInput):
        accept(round_, UUID(int=2), -1, NOW)
    with pytest.raises(InvalidInput):
        accept(round_, UUID(int=9), 1, NOW)
    answered = with_answer(round_, part)
    with pytest.raises(Conflict):
        accept(answered, UUID(int=1), 1, NOW)
    with pytest.raises(Conflict):
        accept(answered, UUID(int=2), 1, EXPIRES)
    assert not answered.is_due(NOW) and answered.is_due(EXPIRES)
    done = with_answer(answered, accept(answered, UUID(int=2), 0, NOW))
    assert done.is_due(NOW) and done.accepted() == {UUID(int=1): 5_000, UUID(int=2): 0}
