"""Pace over available days: absences, late starts and ramp schedules shape expected-to-date."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.performance.domain.pace import (
    Availability,
    PaceStatus,
    Period,
    evaluate,
    expected_share,
)

pytestmark = pytest.mark.unit

Q1 = Period.from_dates(starts_on=date(2030, 1, 1), ends_on=date(2030, 3, 31))
LEAVE = Availability(absences=((date(2030, 2, 1), date(2030, 2, 28)),))


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def test_expected_share_stands_still_during_an_absence():
    """Nothing more is expected from 1 to 28 February; the rest of the period carries it all."""
    before = expected_share(Q1, _at(date(2030, 2, 1)), LEAVE)
    during = expected_share(Q1, _at(date(2030, 2, 20)), LEAVE)
    assert before == during == Fraction(31, 62)
    assert expected_share(Q1, _at(date(2030, 3, 1)), LEAVE) == Fraction(31, 62)
    assert expected_share(Q1, _at(date(2030, 3, 17)), LEAVE) == Fraction(47, 62)


def test_a_rep_on_leave_is_not_judged_behind_while_away():
    """Without sales, a rep away is held at their previous status; present, they fall behind."""
    kwargs = {
        "target_minor": 1_000_000,
        "achieved_minor": 400_000,
        "period": Q1,
        "as_of": _at(date(2030, 2, 25)),
        "previous_status": PaceStatus.ON_TRACK,
    }
    away = evaluate(**kwargs, availability=LEAVE)
    assert away.status is PaceStatus.ON_TRACK
    assert away.expected_to_date_minor == 500_000
    present = evaluate(**kwargs)
    assert present.status is PaceStatus.STRUGGLING
    assert present.expected_to_date_minor == 611_111


def test_a_late_starter_with_a_ramp_is_expected_less_at_first():
    """From 1 Feb at 0.5 then 1: by 1 March, 14 of the 45 weighted days are expected."""
    ramp = Availability(starts_on=date(2030, 2, 1), ramp_schedule=(Fraction(1, 2), Fraction(1)))
    assert expected_share(Q1, _at(date(2030, 1, 20)), ramp) == 0
    assert expected_share(Q1, _at(date(2030, 3, 1)), ramp) == Fraction(14, 45)


def test_seasonality_still_weighs_the_available_days():
    """Absent all of January in a seasonal period: February and March share by their weights."""
    seasonal = Period.from_dates(
        starts_on=date(2030, 1, 1),
        ends_on=date(2030, 3, 31),
        seasonality={1: Decimal("0.5"), 2: Decimal("0.25"), 3: Decimal("0.25")},
    )
    january = Availability(absences=((date(2030, 1, 1), date(2030, 1, 31)),))
    assert expected_share(seasonal, _at(date(2030, 3, 1)), january) == Fraction(1, 2)


@settings(max_examples=200, deadline=None)
@given(
    start=st.integers(0, 89),
    length=st.integers(0, 40),
    day_a=st.integers(0, 91),
    day_b=st.integers(0, 91),
)
def test_available_share_is_monotone_within_zero_and_one(start, length, day_a, day_b):
    """Expected share never decreases with time and ends at exactly 1."""
    first = date.fromordinal(date(2030, 1, 1).toordinal() + start)
    last = date.fromordinal(first.toordinal() + length)
    avail = Availability(absences=((first, last),))
    a = _at(date.fromordinal(date(2030, 1, 1).toordinal() + min(day_a, day_b)))
    b = _at(date.fromordinal(date(2030, 1, 1).toordinal() + max(day_a, day_b)))
    share_a, share_b = expected_share(Q1, a, avail), expected_share(Q1, b, avail)
    assert 0 <= share_a <= share_b <= 1
    assert expected_share(Q1, _at(date(2030, 4, 1)), avail) == 1
