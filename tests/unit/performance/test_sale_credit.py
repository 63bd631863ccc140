"""Split credit: exact shares by largest remainder, and moving credit between reps."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.performance.domain.sales import credited_amounts, move_credit, validate_split
from shared.domain_errors import InvalidInput

pytestmark = pytest.mark.unit
A, B, C = (uuid.UUID(int=i) for i in (1, 2, 3))


def test_credited_amounts_follow_the_percentages_exactly() -> None:
    assert credited_amounts(10001, {A: Decimal(60), B: Decimal(40)}) == {A: 6001, B: 4000}


def test_the_remainder_goes_to_the_largest_fractions() -> None:
    third = Decimal("33.34"), Decimal("33.33"), Decimal("33.33")
    assert credited_amounts(100, dict(zip((A, B, C), third, strict=True))) == {A: 34, B: 33, C: 33}


@given(
    amount=st.integers(min_value=0, max_value=10**12),
    cut=st.integers(min_value=1, max_value=9999),
)
def test_shares_always_add_up_to_the_sale(amount: int, cut: int) -> None:
    first = Decimal(cut) / 100
    shares = credited_amounts(amount, {A: first, B: Decimal(100) - first})
    assert sum(shares.values()) == amount and min(shares.values()) >= 0


@pytest.mark.parametrize(
    "credits",
    [[], [(A, Decimal(60)), (B, Decimal(30))], [(A, Decimal(100)), (A, Decimal(0))]],
)
def test_a_split_must_name_distinct_members_and_sum_to_100(credits) -> None:
    with pytest.raises(InvalidInput):
        validate_split(credits)


def test_moving_credit_takes_from_the_largest_other_holder_first() -> None:
    split = {A: Decimal(70), B: Decimal(30)}
    assert move_credit(split, to_member_id=C, percent=Decimal(80)) == {
        B: Decimal(20),
        C: Decimal(80),
    }
    assert move_credit(split, to_member_id=B, percent=Decimal(70)) == {B: Decimal(100)}


def test_more_credit_than_others_hold_cannot_be_moved() -> None:
    with pytest.raises(InvalidInput):
        move_credit({A: Decimal(100)}, to_member_id=A, percent=Decimal(10))
