"""shared.money.split_exact: the one largest-remainder split every exact share goes through."""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction
from math import ceil, floor
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain_errors import InvalidInput
from shared.money import split_exact, split_exact_marked

pytestmark = pytest.mark.unit

A, B, C, D = (UUID(int=i) for i in (1, 2, 3, 4))

totals = st.integers(min_value=0, max_value=10**12)
# Built from integers: far cheaper for hypothesis to draw than its decimals/fractions strategies.
weights_values = st.one_of(
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=0, max_value=10**10).map(lambda n: Decimal(n).scaleb(-4)),
    st.builds(Fraction, st.integers(0, 10**6), st.integers(1, 1000)),
)
# UUIDs built from small integers: cheaper than st.uuids() and still real member ids.
ids = st.integers(min_value=0, max_value=2**16).map(lambda n: UUID(int=n))
weight_maps = st.dictionaries(ids, weights_values, min_size=1, max_size=10)


def _exact_shares(total: int, weights: dict[UUID, Fraction]) -> dict[UUID, Fraction]:
    weight_sum = sum(weights.values())
    if weight_sum == 0:
        return {k: Fraction(total, len(weights)) for k in weights}
    return {k: total * w / weight_sum for k, w in weights.items()}


@settings(max_examples=500, deadline=None)
@given(total=totals, weights=weight_maps)
def test_parts_always_add_up_to_the_total(total: int, weights: dict) -> None:
    assert sum(split_exact(total, weights).values()) == total


@settings(max_examples=200, deadline=None)
@given(total=totals, weights=weight_maps)
def test_each_part_is_its_exact_share_rounded_down_or_up(total: int, weights: dict) -> None:
    parts = split_exact(total, weights)
    exact = _exact_shares(total, {k: Fraction(w) for k, w in weights.items()})
    for member_id, amount in parts.items():
        assert floor(exact[member_id]) <= amount <= ceil(exact[member_id])


@settings(max_examples=200, deadline=None)
@given(total=totals, weights=weight_maps)
def test_a_larger_weight_never_gets_less(total: int, weights: dict) -> None:
    parts = split_exact(total, weights)
    for i in weights:
        for j in weights:
            if Fraction(weights[i]) > Fraction(weights[j]):
                assert parts[i] >= parts[j]


@settings(max_examples=500, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), total=totals, weights=weight_maps)
def test_split_is_deterministic_whatever_the_order_of_members(
    total: int, weights: dict, seed: int
) -> None:
    items = list(weights.items())
    random.Random(seed).shuffle(items)
    assert split_exact(total, dict(items)) == split_exact(total, weights)


@settings(max_examples=100, deadline=None)
@given(total=totals, weights=weight_maps)
def test_zero_weight_gets_nothing_unless_every_weight_is_zero(total: int, weights: dict) -> None:
    parts = split_exact(total, weights)
    if any(Fraction(w) > 0 for w in weights.values()):
        assert all(parts[k] == 0 for k, w in weights.items() if Fraction(w) == 0)
    else:
        assert max(parts.values()) - min(parts.values()) <= 1


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        # Equal thirds: the extra unit goes to the smallest id text.
        (100, {C: 1, B: 1, A: 1}, {A: 34, B: 33, C: 33}),
        (101, {C: 1, B: 1, A: 1}, {A: 34, B: 34, C: 33}),
        # 3.33 / 6.67: the larger remainder wins over the smaller id.
        (10, {A: 1, B: 2}, {A: 3, B: 7}),
        (0, {A: 5, B: 7}, {A: 0, B: 0}),
        # All-zero weights fall back to an equal split.
        (7, {A: 0, B: 0}, {A: 4, B: 3}),
        (1, {A: 0, B: 3}, {A: 0, B: 1}),
        (
            101,
            {A: Decimal("0.5"), B: Decimal("0.25"), C: Decimal("0.25")},
            {A: 51, B: 25, C: 25},
        ),
        (
            1000,
            {A: Fraction(1, 3), B: Fraction(1, 3), C: Fraction(1, 3)},
            {A: 334, B: 333, C: 333},
        ),
        (5, {A: 1, B: 1, C: 1, D: 1}, {A: 2, B: 1, C: 1, D: 1}),
    ],
)
def test_split_exact_examples(total: int, weights: dict, expected: dict) -> None:
    assert split_exact(total, weights) == expected


def test_tie_rule_compares_ids_as_text() -> None:
    # As text "10" < "9", although 9 < 10 as numbers.
    assert split_exact(1, {9: 1, 10: 1}) == {9: 0, 10: 1}


def test_empty_team_gets_a_zero_total_but_not_a_positive_one() -> None:
    assert split_exact(0, {}) == {}
    with pytest.raises(InvalidInput):
        split_exact(1, {})


@pytest.mark.parametrize(
    "bad_weights",
    [
        {A: -1, B: 1},
        {A: Decimal("-0.01")},
        {A: 0.5},
        {A: Decimal("NaN")},
        {A: True},
        {A: "1"},
    ],
)
def test_negative_or_inexact_weights_are_refused(bad_weights: dict) -> None:
    with pytest.raises(InvalidInput):
        split_exact(100, bad_weights)


@pytest.mark.parametrize("bad_total", [1.0, Decimal(1), True])
def test_total_must_be_integer_minor_units(bad_total: object) -> None:
    with pytest.raises(InvalidInput):
        split_exact(bad_total, {A: 1})  # the refusal under test


@settings(max_examples=200, deadline=None)
@given(total=st.integers(min_value=-(10**12), max_value=-1), weights=weight_maps)
def test_a_negative_total_splits_exactly_too(total: int, weights: dict) -> None:
    parts = split_exact(total, weights)
    exact = _exact_shares(total, {k: Fraction(w) for k, w in weights.items()})
    assert sum(parts.values()) == total
    assert all(floor(exact[k]) <= amount <= ceil(exact[k]) for k, amount in parts.items())


@settings(max_examples=200, deadline=None)
@given(total=totals, ids_=st.lists(ids, min_size=2, max_size=10, unique=True))
def test_equal_weights_give_the_extra_units_to_the_smallest_ids(total: int, ids_: list) -> None:
    parts, bumped = split_exact_marked(total, dict.fromkeys(ids_, 1))
    extra = total % len(ids_)
    assert bumped == set(sorted(ids_, key=str)[:extra])
    assert {parts[k] for k in bumped} <= {total // len(ids_) + 1}


@settings(max_examples=200, deadline=None)
@given(total=totals, weights=weight_maps)
def test_the_marked_keys_are_those_rounded_up(total: int, weights: dict) -> None:
    parts, bumped = split_exact_marked(total, weights)
    exact = _exact_shares(total, {k: Fraction(w) for k, w in weights.items()})
    assert bumped == {k for k, amount in parts.items() if amount > floor(exact[k])}
