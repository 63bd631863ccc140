"""Relief, proration and ramp schedules are exact and deterministic (examples and properties)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.goals.domain.availability import (
    PeriodDays,
    Ramp,
    absent_share,
    availability,
    check_ramp_schedule,
    plan_relief,
    portion_minor,
    prorated_minor,
    relief_minor,
    scaled_minor,
    take_from_others,
    working_days,
)
from services.goals.domain.rebalancing import MemberPosition, RebalancePolicy
from shared.domain_errors import Conflict, InvalidInput

pytestmark = pytest.mark.unit

Q1 = PeriodDays(date(2030, 1, 1), date(2030, 3, 31))
SEASONAL = PeriodDays(
    date(2030, 1, 1),
    date(2030, 3, 31),
    {1: Decimal("0.2"), 2: Decimal("0.3"), 3: Decimal("0.5")},
)


def _pos(member_id, target, achieved=0, original=None):
    return MemberPosition(
        member_id=member_id,
        target_minor=target,
        original_target_minor=target if original is None else original,
        achieved_minor=achieved,
        projected_minor=target,
        status="on_track",
    )


def test_working_days_count_monday_to_friday():
    """4..15 Feb 2030 (Mon..Fri next week) holds 10 working days of 12."""
    assert working_days(date(2030, 2, 4), date(2030, 2, 15)) == 10
    assert working_days(date(2030, 2, 9), date(2030, 2, 10)) == 0
    assert working_days(date(2030, 2, 10), date(2030, 2, 9)) == 0


def test_absent_share_is_weighted_by_the_month_of_each_day():
    """All of February in a seasonal Q1 is February's weight, not 28/90."""
    assert absent_share(SEASONAL, date(2030, 2, 1), date(2030, 2, 28)) == Fraction(3, 10)
    assert absent_share(Q1, date(2030, 2, 1), date(2030, 2, 28)) == Fraction(28, 90)
    assert absent_share(Q1, date(2029, 12, 1), date(2030, 1, 9)) == Fraction(9, 90)


def test_relief_needs_min_working_days_inside_the_period():
    """A week of leave relieves with min_days 5, not with min_days 6; outside it never does."""
    week = {"starts_on": date(2030, 2, 4), "ends_on": date(2030, 2, 10)}
    assert relief_minor(target_minor=9_000_000, period=Q1, min_days=5, **week) == 700_000
    assert relief_minor(target_minor=9_000_000, period=Q1, min_days=6, **week) == 0
    outside = {"starts_on": date(2030, 4, 1), "ends_on": date(2030, 4, 30)}
    assert relief_minor(target_minor=9_000_000, period=Q1, min_days=0, **outside) == 0


def test_a_ramp_schedule_steps_once_per_month_since_starts_on():
    """Steps change on the same day of the month as starts_on; the last step holds."""
    ramp = Ramp(starts_on=date(2030, 1, 15), schedule=(Fraction(1, 4), Fraction(1, 2), Fraction(1)))
    assert ramp.factor(date(2030, 1, 14)) == 0
    assert ramp.factor(date(2030, 2, 14)) == Fraction(1, 4)
    assert ramp.factor(date(2030, 2, 15)) == Fraction(1, 2)
    assert ramp.factor(date(2030, 6, 1)) == 1


def test_ramp_schedules_refuse_steps_outside_zero_to_one_and_floats():
    """Each step is an exact number within 0..1."""
    with pytest.raises(InvalidInput):
        check_ramp_schedule([Decimal("1.5")])
    with pytest.raises(InvalidInput):
        check_ramp_schedule([0.5])
    with pytest.raises(InvalidInput):
        check_ramp_schedule([Decimal(1)] * 49)


def test_relief_for_the_team_is_capped_and_the_rest_is_pooled():
    """Caps bound what the others take; the remainder waits on the unassigned line."""
    team = [_pos("a", 1000), _pos("b", 1000), _pos("c", 1000)]
    policy = RebalancePolicy(max_increase_pct=Decimal(10))
    plan = plan_relief(member_id="a", relief=500, team=team, policy=policy, absorb="team")
    assert plan.absorbed == {"b": 100, "c": 100} and plan.pooled_minor == 300
    assert plan.new_targets == {"a": 500, "b": 1100, "c": 1100}


def test_funding_a_joiner_from_the_others_respects_what_they_sold():
    """The others give within target - achieved, or the request is a conflict."""
    team = [_pos("a", 1000, achieved=900), _pos("b", 1000)]
    assert take_from_others(amount_minor=300, team=team, exclude="x") == {"a": 100, "b": 200}
    with pytest.raises(Conflict):
        take_from_others(amount_minor=1200, team=team, exclude="x")


def test_scaled_minor_rounds_half_up_like_portion_minor():
    """The joiner's factor may exceed 1; below 1 it agrees with largest remainder."""
    assert scaled_minor(3, Fraction(1, 2)) == 2 == portion_minor(3, Fraction(1, 2))
    assert scaled_minor(10, Fraction(7, 3)) == 23


# ----------------------------------------------------------------------------- properties


@st.composite
def periods(draw):
    start = date(2030, 1, 1) + timedelta(days=draw(st.integers(0, 60)))
    days = draw(st.integers(1, 200))
    period = PeriodDays(start, start + timedelta(days=days - 1))
    if draw(st.booleans()):
        months = sorted({d.month for d in period.days()})
        left, weights = 100, {}
        for month in months[:-1]:
            weights[month] = draw(st.integers(0, left))
            left -= weights[month]
        weights[months[-1]] = left
        # Hundredths keep the weights exact decimals summing to exactly 1.
        period = PeriodDays(
            period.starts_on,
            period.ends_on,
            {m: Decimal(w) / 100 for m, w in weights.items()},
        )
    return period


@st.composite
def absences(draw, period):
    first = draw(st.integers(-10, (period.ends_on - period.starts_on).days + 10))
    length = draw(st.integers(0, 60))
    start = period.starts_on + timedelta(days=first)
    return start, start + timedelta(days=length)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_relief_plus_what_stays_is_the_target_exactly(data):
    """Relief is target x share to the minor unit, and the absent share is within 0..1."""
    period = data.draw(periods())
    start, end = data.draw(absences(period))
    target = data.draw(st.integers(0, 10**15))
    share = absent_share(period, start, end)
    assert 0 <= share <= 1
    relief = relief_minor(
        target_minor=target, period=period, starts_on=start, ends_on=end, min_days=0
    )
    assert 0 <= relief <= target
    assert abs(relief - target * share) <= Fraction(1, 2)
    # Deterministic: the same input gives the same relief.
    assert relief == relief_minor(
        target_minor=target, period=period, starts_on=start, ends_on=end, min_days=0
    )


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_every_absorb_mode_keeps_the_plan_exact(data):
    """targets + unassigned - total change is the same before and after any relief."""
    n = data.draw(st.integers(1, 8))
    team = [_pos(f"m{i}", data.draw(st.integers(0, 10**9))) for i in range(n)]
    absorb = data.draw(st.sampled_from(["nobody", "team", "pool"]))
    relief = data.draw(st.integers(0, team[0].target_minor))
    policy = RebalancePolicy(max_increase_pct=Decimal(data.draw(st.integers(0, 50))))
    plan = plan_relief(member_id="m0", relief=relief, team=team, policy=policy, absorb=absorb)
    before = sum(p.target_minor for p in team)
    after = sum(plan.new_targets.get(p.member_id, p.target_minor) for p in team)
    assert after + plan.pooled_minor == before + plan.total_delta_minor
    assert plan.new_targets.get("m0", team[0].target_minor) == team[0].target_minor - relief
    assert plan == plan_relief(
        member_id="m0", relief=relief, team=list(reversed(team)), policy=policy, absorb=absorb
    )


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_proration_with_a_ramp_never_exceeds_the_full_amount_and_is_exact(data):
    """Prorated = round(full x ramped availability), within 0..full, from any starts_on."""
    period = data.draw(periods())
    full = data.draw(st.integers(0, 10**12))
    steps = data.draw(st.lists(st.integers(0, 4), min_size=0, max_size=6))
    start = period.starts_on + timedelta(days=data.draw(st.integers(-40, 220)))
    ramp = Ramp(starts_on=start, schedule=tuple(Fraction(s, 4) for s in steps))
    share = availability(period, ramp=ramp)
    amount = prorated_minor(full_minor=full, period=period, ramp=ramp)
    assert 0 <= amount <= full
    assert abs(amount - full * share) <= Fraction(1, 2)
    # A full schedule of ones from before the period is the whole period.
    whole = availability(period, ramp=Ramp(starts_on=period.starts_on, schedule=(Fraction(1),)))
    assert whole == sum(period.day_weights().values()) == 1


def test_a_seasonal_schedule_follows_the_month_weights():
    """0.2 / 0.3 / 0.5 of 1000.00 by month; an absent February moves its part to the others."""
    from services.goals.domain.availability import schedule

    months = schedule(target_minor=100_000, period=SEASONAL, grain="month")
    assert [s.amount_minor for s in months] == [20_000, 30_000, 50_000]
    away = schedule(
        target_minor=100_000,
        period=SEASONAL,
        grain="month",
        absences=[(date(2030, 2, 1), date(2030, 2, 28))],
    )
    assert [s.amount_minor for s in away] == [28_571, 0, 71_429]


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_schedule_slices_always_add_up_to_the_target(data):
    """Any grain, absences and ramp: the slices sum to the target and cover the period."""
    from services.goals.domain.availability import schedule

    period = data.draw(periods())
    target = data.draw(st.integers(0, 10**15))
    grain = data.draw(st.sampled_from(["month", "week"]))
    start, end = data.draw(absences(period))
    ramp = Ramp(starts_on=start, schedule=(Fraction(1, 2), Fraction(1)))
    slices = schedule(
        target_minor=target, period=period, grain=grain, ramp=ramp, absences=[(start, end)]
    )
    assert sum(s.amount_minor for s in slices) == target
    assert slices[0].starts_on == period.starts_on and slices[-1].ends_on == period.ends_on
    assert slices == schedule(
        target_minor=target, period=period, grain=grain, ramp=ramp, absences=[(start, end)]
    )


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_capacity_with_ramp_schedules_still_adds_up_exactly(data):
    """Ramped availabilities as capacity weights: the split is exact and order-independent."""
    from services.goals.domain.allocation import MemberInput, allocate

    period = data.draw(periods())
    n = data.draw(st.integers(1, 8))
    members = []
    for i in range(n):
        steps = data.draw(st.lists(st.integers(0, 4), min_size=1, max_size=4))
        start = period.starts_on + timedelta(days=data.draw(st.integers(-30, 120)))
        ramp = Ramp(starts_on=start, schedule=tuple(Fraction(s, 4) for s in steps))
        members.append(MemberInput(member_id=f"m{i}", ramp=availability(period, ramp=ramp)))
    total = data.draw(st.integers(0, 10**15))
    split = allocate(total_minor=total, method="capacity", members=members).targets
    assert sum(split.values()) == total
    assert allocate(total_minor=total, method="capacity", members=members[::-1]).targets == split


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_relief_spread_over_the_team_skips_the_absent_and_the_struggling(data):
    """absorb=team: the total stays exact and nobody absent or struggling takes any of it."""
    n = data.draw(st.integers(1, 8))
    statuses = st.sampled_from(["on_track", "at_risk", "struggling"])
    team = [
        MemberPosition(
            member_id=f"m{i}",
            target_minor=(target := data.draw(st.integers(0, 10**9))),
            original_target_minor=target,
            achieved_minor=0,
            projected_minor=target,
            status=data.draw(statuses),
        )
        for i in range(n)
    ]
    absent = {f"m{i}" for i in range(1, n) if data.draw(st.booleans())}
    relief = data.draw(st.integers(0, team[0].target_minor))
    policy = RebalancePolicy(max_increase_pct=Decimal(data.draw(st.integers(0, 50))))
    plan = plan_relief(
        member_id="m0", relief=relief, team=team, policy=policy, absorb="team", absent=absent
    )
    before = sum(p.target_minor for p in team)
    after = sum(plan.new_targets.get(p.member_id, p.target_minor) for p in team)
    assert after + plan.pooled_minor == before and plan.total_delta_minor == 0
    unable = absent | {p.member_id for p in team if p.status == "struggling"}
    assert not unable & set(plan.absorbed)
    assert all(
        plan.new_targets.get(p.member_id, p.target_minor) == p.target_minor
        for p in team[1:]
        if p.member_id in unable
    )
    assert plan == plan_relief(
        member_id="m0",
        relief=relief,
        team=list(reversed(team)),
        policy=policy,
        absorb="team",
        absent=absent,
    )


def test_relief_goes_to_the_present_and_not_struggling():
    """b is away, c is struggling: d takes all it can, the rest waits on the unassigned line."""
    team = [_pos("a", 1000), _pos("b", 1000), _pos("d", 1000)]
    team.append(
        MemberPosition(
            member_id="c",
            target_minor=1000,
            original_target_minor=1000,
            achieved_minor=0,
            projected_minor=500,
            status="struggling",
        )
    )
    policy = RebalancePolicy(max_increase_pct=Decimal(30))
    plan = plan_relief(
        member_id="a", relief=500, team=team, policy=policy, absorb="team", absent={"b"}
    )
    assert plan.absorbed == {"d": 300} and plan.pooled_minor == 200
