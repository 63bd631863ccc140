"""Give-back: exact, never below what a receiver sold, within the giver's headroom, newest first."""

from __future__ import annotations

from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.goals.domain.give_back import Given, plan_give_back
from services.goals.domain.rebalancing import MemberPosition

pytestmark = pytest.mark.unit

G = UUID(int=0)


def pos(i: int, target: int, projected: int, achieved: int = 0) -> MemberPosition:
    """A member whose original target is the current one."""
    return MemberPosition(UUID(int=i), target, target, achieved, projected, "on_track")


_receivers = st.lists(
    st.tuples(
        st.integers(1, 10**6),  # target
        st.integers(0, 120),  # achieved, % of target
        st.integers(1, 10**5),  # received from the giver
        st.integers(0, 3),  # in which rebalance (order)
    ),
    min_size=1,
    max_size=8,
)


def _case(giver_target: int, headroom: int, rows: list[tuple[int, int, int, int]]):
    giver = pos(0, giver_target, giver_target + headroom)
    team = [giver]
    given_rows = []
    for i, (target, sold, got, order) in enumerate(rows, start=1):
        team.append(pos(i, target, target, target * sold // 100))
        given_rows.append(Given(UUID(int=i), got, order))
    return giver, team, given_rows


@settings(max_examples=400)
@given(st.integers(0, 10**6), st.integers(-(10**5), 10**6), _receivers)
def test_give_back_keeps_the_total_and_every_floor(giver_target, headroom, rows):
    giver, team, given_rows = _case(giver_target, headroom, rows)
    plan = plan_give_back(giver=giver, given=given_rows, team=team)
    before = {p.member_id: p.target_minor for p in team}
    after = before | plan.new_targets
    assert sum(after.values()) == sum(before.values())
    assert plan.returned_minor <= min(max(headroom, 0), sum(g.amount_minor for g in given_rows))
    assert after[G] == giver_target + plan.returned_minor
    received: dict[UUID, int] = {}
    for g in given_rows:
        received[g.to_member] = received.get(g.to_member, 0) + g.amount_minor
    for p in team[1:]:
        assert (
            after[p.member_id] >= max(p.achieved_minor, 0)
            or after[p.member_id] == before[p.member_id]
        )
        assert before[p.member_id] - after[p.member_id] <= received[p.member_id]
    assert all(t.to_member == G and t.amount_minor > 0 for t in plan.transfers)


@settings(max_examples=300)
@given(st.integers(0, 10**6), st.integers(0, 10**6), _receivers, st.randoms(use_true_random=False))
def test_give_back_does_not_depend_on_the_order_given(giver_target, headroom, rows, rnd):
    giver, team, given_rows = _case(giver_target, headroom, rows)
    first = plan_give_back(giver=giver, given=given_rows, team=team)
    shuffled, members = list(given_rows), list(team)
    rnd.shuffle(shuffled)
    rnd.shuffle(members)
    assert plan_give_back(giver=giver, given=shuffled, team=members) == first


def test_the_newest_transfer_is_reversed_first():
    giver = pos(0, 50_000, 70_000)  # 20 000 of headroom
    team = [giver, pos(1, 120_000, 120_000), pos(2, 110_000, 110_000)]
    given_rows = [Given(UUID(int=1), 20_000, order=0), Given(UUID(int=2), 10_000, order=1)]
    plan = plan_give_back(giver=giver, given=given_rows, team=team)
    assert plan.returned_minor == 20_000 and plan.given_minor == 30_000
    assert plan.new_targets == {UUID(int=2): 100_000, UUID(int=1): 110_000, G: 70_000}


def test_a_receiver_keeps_at_least_what_they_sold():
    giver = pos(0, 50_000, 200_000)
    team = [giver, pos(1, 120_000, 130_000, achieved=115_000)]
    plan = plan_give_back(giver=giver, given=[Given(UUID(int=1), 20_000, 0)], team=team)
    assert plan.new_targets == {UUID(int=1): 115_000, G: 55_000}


def test_a_receiver_who_left_the_team_gives_nothing_back():
    giver = pos(0, 50_000, 200_000)
    plan = plan_give_back(giver=giver, given=[Given(UUID(int=9), 20_000, 0)], team=[giver])
    assert plan.transfers == () and plan.returned_minor == 0 and plan.new_targets == {}


def _apply(team: list[MemberPosition], new_targets: dict) -> list[MemberPosition]:
    return [
        MemberPosition(
            p.member_id,
            new_targets.get(p.member_id, p.target_minor),
            p.original_target_minor,
            p.achieved_minor,
            p.projected_minor,
            p.status,
        )
        for p in team
    ]


def _still_owed(given_rows: list[Given], transfers) -> list[Given]:
    """The episode's transfers less what came back, newest first as the give-back takes it."""
    back = {t.from_member: t.amount_minor for t in transfers}
    owed = []
    for g in sorted(given_rows, key=lambda g: -g.order):
        taken = min(back.get(g.to_member, 0), g.amount_minor)
        back[g.to_member] = back.get(g.to_member, 0) - taken
        if g.amount_minor > taken:
            owed.append(Given(g.to_member, g.amount_minor - taken, g.order))
    return owed


@settings(max_examples=300)
@given(st.integers(0, 10**6), st.integers(-(10**5), 10**6), _receivers)
def test_a_give_back_repeated_for_its_episode_never_returns_more_than_was_given(
    giver_target, headroom, rows
):
    """Goals keeps one give-back per episode; even re-run over what is still owed, the maths
    returns at most what the episode moved away, and the team total stays exact."""
    giver, team, given_rows = _case(giver_target, headroom, rows)
    first = plan_give_back(giver=giver, given=given_rows, team=team)
    after = _apply(team, first.new_targets)
    giver_after = next(p for p in after if p.member_id == G)
    owed = _still_owed(given_rows, first.transfers)
    rest = plan_give_back(giver=giver_after, given=owed, team=after)
    assert first.returned_minor + rest.returned_minor <= sum(g.amount_minor for g in given_rows)
    assert sum(p.target_minor for p in _apply(after, rest.new_targets)) == sum(
        p.target_minor for p in team
    )
