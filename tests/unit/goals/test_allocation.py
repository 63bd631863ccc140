"""Allocation maths: exact splits, the four methods, overrides and derivations."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from fractions import Fraction
from math import floor
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.goals.domain.allocation import (
    Allocation,
    AllocationParams,
    MemberInput,
    Method,
    allocate,
    format_exact,
)
from shared.domain_errors import InvalidInput

pytestmark = pytest.mark.unit

A, B, C, D = (UUID(int=i) for i in (1, 2, 3, 4))

# --------------------------------------------------------------------------- strategies

totals = st.integers(min_value=0, max_value=10**12)
# UUIDs built from small integers: cheaper than st.uuids() and still real member ids.
ids = st.integers(min_value=0, max_value=2**16).map(lambda n: UUID(int=n))
# Hundredths from 0 to 1; integers are much cheaper for hypothesis to draw than decimals.
unit_decimals = st.integers(min_value=0, max_value=100).map(lambda n: Decimal(n).scaleb(-2))


@st.composite
def members_lists(draw: st.DrawFn, min_size: int = 1, max_size: int = 8) -> list[MemberInput]:
    rows = draw(
        st.lists(
            st.tuples(
                ids, unit_decimals, unit_decimals, st.lists(st.integers(0, 10**7), max_size=6)
            ),
            min_size=min_size,
            max_size=max_size,
            unique_by=lambda row: row[0],
        )
    )
    return [
        MemberInput(member_id=k, capacity=cap, ramp=ramp, history=tuple(hist))
        for k, cap, ramp, hist in rows
    ]


params_values = st.builds(
    AllocationParams, periods=st.integers(min_value=1, max_value=6), alpha=unit_decimals
)


@st.composite
def allocation_cases(
    draw: st.DrawFn,
) -> tuple[int, Method, list[MemberInput], AllocationParams, dict[UUID, int]]:
    # Fixed-shape draws first, the variable-length team after: fewer examples discarded.
    total = draw(totals)
    method = draw(st.sampled_from(Method))
    params = draw(params_values)
    members = draw(members_lists())
    chosen = draw(st.lists(st.sampled_from(members), unique=True, max_size=len(members)))
    overrides: dict[UUID, int] = {}
    left = total
    for member in chosen:
        overrides[member.member_id] = draw(st.integers(min_value=0, max_value=left))
        left -= overrides[member.member_id]
    if len(chosen) == len(members):
        # With everyone overridden the overrides must cover the total exactly.
        overrides[chosen[-1].member_id] += left
    return total, method, members, params, overrides


# --------------------------------------------------------------------------- allocate properties


@settings(max_examples=500, deadline=None)
@given(case=allocation_cases())
def test_targets_always_sum_to_team_total(case: tuple) -> None:
    total, method, members, params, overrides = case
    result = allocate(
        total_minor=total, method=method, members=members, params=params, overrides=overrides
    )
    assert sum(result.targets.values()) == total
    assert set(result.targets) == {m.member_id for m in members}
    assert all(amount >= 0 for amount in result.targets.values())


@settings(max_examples=200, deadline=None)
@given(case=allocation_cases())
def test_overridden_members_get_exactly_their_override(case: tuple) -> None:
    total, method, members, params, overrides = case
    result = allocate(
        total_minor=total, method=method, members=members, params=params, overrides=overrides
    )
    for member_id, amount in overrides.items():
        assert result.targets[member_id] == amount
        assert result.derivations[member_id].overridden
    assert result.pool_minor == total - sum(overrides.values())


@settings(max_examples=200, deadline=None)
@given(case=allocation_cases())
def test_derivation_explains_each_target(case: tuple) -> None:
    total, method, members, params, overrides = case
    result = allocate(
        total_minor=total, method=method, members=members, params=params, overrides=overrides
    )
    shares = Fraction(0)
    for member in members:
        derivation = result.derivations[member.member_id]
        json.dumps(derivation.to_json())
        assert derivation.method == method.value
        raw = Fraction(derivation.raw_minor)
        if derivation.overridden:
            assert raw == result.targets[member.member_id]
            continue
        share = Fraction(derivation.share)
        shares += share
        assert raw == derivation.pool_minor * share
        assert floor(raw) + derivation.rounding_adjustment_minor == result.targets[member.member_id]
        assert derivation.rounding_adjustment_minor in (0, 1)
    if len(overrides) < len(members):
        assert shares == 1


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), case=allocation_cases())
def test_allocation_is_deterministic_whatever_the_order_of_members(case: tuple, seed: int) -> None:
    total, method, members, params, overrides = case
    shuffled = list(members)
    random.Random(seed).shuffle(shuffled)

    def run(team: list[MemberInput]) -> Allocation:
        return allocate(
            total_minor=total, method=method, members=team, params=params, overrides=overrides
        )

    first, second = run(members), run(shuffled)
    assert first.targets == second.targets
    assert first.derivations == second.derivations


@settings(max_examples=100, deadline=None)
@given(case=allocation_cases(), extra=st.integers(min_value=1, max_value=10**6))
def test_overrides_above_the_total_are_refused(case: tuple, extra: int) -> None:
    total, method, members, params, _ = case
    overrides = {members[0].member_id: total + extra}
    with pytest.raises(InvalidInput, match="more than the team total"):
        allocate(
            total_minor=total, method=method, members=members, params=params, overrides=overrides
        )


# --------------------------------------------------------------------------- methods, by example


def _targets(**kwargs: object) -> dict:
    return allocate(**kwargs).targets


def test_equal_split_of_100_over_three_gives_the_extra_cent_to_the_smallest_id() -> None:
    members = [MemberInput(C), MemberInput(A), MemberInput(B)]
    assert _targets(total_minor=100, method="equal", members=members) == {A: 34, B: 33, C: 33}


def test_historical_uses_mean_of_last_n_and_team_median_for_newcomers() -> None:
    members = [
        MemberInput(A, history=(100, 100, 100, 100, 9999)),  # 5th period is beyond N=4
        MemberInput(B, history=(300, 100)),  # only two periods: mean of what exists
        MemberInput(C),  # new rep: median(100, 200) = 150
    ]
    result = allocate(total_minor=900, method=Method.HISTORICAL, members=members)
    assert result.targets == {A: 200, B: 400, C: 300}
    assert result.derivations[C].inputs == {
        "periods": 4,
        "history_used": [],
        "source": "team_median",
        "team_median": "150",
    }
    assert result.derivations[A].inputs["history_used"] == [100, 100, 100, 100]
    assert result.derivations[B].weight == "200"
    assert result.derivations[C].share == "1/3"


def test_historical_respects_the_number_of_periods() -> None:
    members = [MemberInput(A, history=(10, 20, 999)), MemberInput(B, history=(45,))]
    targets = _targets(
        total_minor=600,
        method="historical",
        members=members,
        params=AllocationParams(periods=2),
    )
    assert targets == {A: 150, B: 450}  # weights 15 and 45


def test_historical_without_any_history_falls_back_to_equal() -> None:
    result = allocate(total_minor=10, method="historical", members=[MemberInput(A), MemberInput(B)])
    assert result.targets == {A: 5, B: 5}
    assert result.derivations[A].inputs["source"] == "no_team_history_equal"


def test_historical_zero_results_everywhere_split_equally_and_say_so() -> None:
    members = [MemberInput(A, history=(0,)), MemberInput(B, history=(0, 0))]
    result = allocate(total_minor=3, method="historical", members=members)
    assert result.targets == {A: 2, B: 1}
    assert result.derivations[A].rounding_adjustment_minor == 1
    assert result.derivations[A].inputs["fallback"] == "all weights are zero: equal split"


def test_capacity_weights_are_fte_times_ramp() -> None:
    members = [
        MemberInput(A),
        MemberInput(B, capacity=Decimal("0.5")),
        MemberInput(C, ramp=Decimal("0.5")),
        MemberInput(D, capacity=Decimal("0.8"), ramp=Decimal("0")),
    ]
    result = allocate(total_minor=1000, method="capacity", members=members)
    assert result.targets == {A: 500, B: 250, C: 250, D: 0}
    assert result.derivations[B].inputs == {"capacity": "0.5", "ramp": "1"}
    assert result.derivations[B].weight == "0.5"
    assert result.derivations[B].share == "0.25"


def test_blended_mixes_normalised_historical_and_capacity_shares() -> None:
    # Historical shares 3/4 and 1/4, capacity shares 1/3 and 2/3:
    # A = 1/2 * 3/4 + 1/2 * 1/3 = 13/24, B = 11/24.
    members = [
        MemberInput(A, capacity=Decimal("0.5"), history=(300,)),
        MemberInput(B, history=(100,)),
    ]
    result = allocate(total_minor=2400, method="blended", members=members)
    assert result.targets == {A: 1300, B: 1100}
    assert result.derivations[A].weight == "13/24"
    assert result.derivations[A].inputs["historical_share"] == "0.75"
    assert result.derivations[A].inputs["capacity_share"] == "1/3"


@pytest.mark.parametrize(
    ("alpha", "expected"),
    [(Decimal(1), {A: 1800, B: 600}), (Decimal(0), {A: 800, B: 1600})],
)
def test_blended_alpha_one_is_historical_and_zero_is_capacity(alpha: Decimal, expected: dict):
    members = [
        MemberInput(A, capacity=Decimal("0.5"), history=(300,)),
        MemberInput(B, history=(100,)),
    ]
    targets = _targets(
        total_minor=2400, method="blended", members=members, params=AllocationParams(alpha=alpha)
    )
    assert targets == expected


# --------------------------------------------------------------------------- overrides


def test_override_respreads_the_remainder_over_the_others() -> None:
    members = [MemberInput(A), MemberInput(B), MemberInput(C)]
    result = allocate(total_minor=1000, method="equal", members=members, overrides={A: 401})
    assert result.targets == {A: 401, B: 300, C: 299}
    assert result.pool_minor == 599
    assert result.derivations[A].overridden
    assert result.derivations[A].inputs == {"override_minor": 401}
    assert result.derivations[B].rounding_adjustment_minor == 1


def test_everyone_overridden_with_the_exact_total_is_accepted() -> None:
    members = [MemberInput(A), MemberInput(B)]
    targets = _targets(total_minor=10, method="equal", members=members, overrides={A: 3, B: 7})
    assert targets == {A: 3, B: 7}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({A: 600, B: 500}, "more than the team total"),
        ({D: 1}, "not in the team"),
        ({A: 1, B: 2, C: 3}, "every member is overridden"),
        ({A: -1}, "must not be negative"),
        ({A: Decimal("1.5")}, "integer amount of minor units"),
    ],
)
def test_invalid_overrides_are_refused_with_a_clear_detail(overrides: dict, message: str) -> None:
    members = [MemberInput(A), MemberInput(B), MemberInput(C)]
    with pytest.raises(InvalidInput, match=message):
        allocate(total_minor=1000, method="equal", members=members, overrides=overrides)


def test_invalid_inputs_are_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown allocation method"):
        allocate(total_minor=1, method="random", members=[MemberInput(A)])
    with pytest.raises(InvalidInput, match="more than once"):
        allocate(total_minor=1, method="equal", members=[MemberInput(A), MemberInput(A)])
    with pytest.raises(InvalidInput, match="without members"):
        allocate(total_minor=1, method="equal", members=[])
    with pytest.raises(InvalidInput, match="between 0 and 1"):
        MemberInput(A, capacity=Decimal("1.1"))
    with pytest.raises(InvalidInput, match="between 0 and 1"):
        AllocationParams(alpha=Decimal("-0.1"))
    with pytest.raises(InvalidInput, match="positive integer"):
        AllocationParams(periods=0)
    assert allocate(total_minor=0, method="equal", members=[]).targets == {}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Fraction(2, 5), "0.4"),
        (Fraction(1, 3), "1/3"),
        (Fraction(150), "150"),
        (Fraction(-1, 8), "-0.125"),
        (Fraction(1, 100), "0.01"),
    ],
)
def test_exact_values_read_as_decimals_when_they_have_one(value: Fraction, text: str) -> None:
    assert format_exact(value) == text
