"""Goals' target schedule and performance's pace are one day model: they agree at every slice end."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.goals.domain.availability import PeriodDays, Ramp, schedule
from services.performance.domain.pace import Availability, Period, evaluate

pytestmark = pytest.mark.unit

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "America/Santiago", "Asia/Kolkata"]


def _months(starts_on: date, ends_on: date) -> list[int]:
    months: list[int] = []
    day = starts_on
    while day <= ends_on:
        if day.month not in months:
            months.append(day.month)
        day += timedelta(days=1)
    return months


@st.composite
def seasonality(draw: st.DrawFn, months: list[int]) -> dict[int, Decimal] | None:
    """None, or weights in hundredths over the period's months that sum to exactly 1."""
    if not draw(st.booleans()):
        return None
    raw = [draw(st.integers(0, 100)) for _ in months]
    if not sum(raw):
        raw[0] = 1
    hundredths = [r * 100 // sum(raw) for r in raw]
    hundredths[-1] += 100 - sum(hundredths)
    return {m: Decimal(h).scaleb(-2) for m, h in zip(months, hundredths, strict=True)}


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_expected_to_date_at_every_slice_end_is_the_schedules_running_sum(data):
    """Any period, zone, weights, absences and ramp, month or week: pace == running sum of slices."""
    starts_on = date(2030, 1, 1) + timedelta(days=data.draw(st.integers(0, 400)))
    ends_on = starts_on + timedelta(days=data.draw(st.integers(0, 200)))
    zone = data.draw(st.sampled_from(ZONES))
    weights = data.draw(seasonality(_months(starts_on, ends_on)))
    absences = []
    for _ in range(data.draw(st.integers(0, 3))):
        first = starts_on + timedelta(days=data.draw(st.integers(-20, 210)))
        absences.append((first, first + timedelta(days=data.draw(st.integers(0, 60)))))
    steps = tuple(Fraction(s, 4) for s in data.draw(st.lists(st.integers(0, 4), max_size=4)))
    rep_starts = (
        starts_on + timedelta(days=data.draw(st.integers(-60, 120)))
        if data.draw(st.booleans())
        else None
    )
    target = data.draw(st.integers(0, 10**15))
    grain = data.draw(st.sampled_from(["month", "week"]))

    slices = schedule(
        target_minor=target,
        period=PeriodDays(starts_on, ends_on, weights),
        grain=grain,
        ramp=Ramp(starts_on=rep_starts, schedule=steps),
        absences=absences,
    )
    period = Period.from_dates(
        starts_on=starts_on, ends_on=ends_on, timezone=zone, seasonality=weights
    )
    availability = Availability(
        absences=tuple(sorted(absences)), starts_on=rep_starts, ramp_schedule=steps
    )
    running = 0
    for piece in slices:
        running += piece.amount_minor
        end = datetime.combine(piece.ends_on + timedelta(days=1), time(), tzinfo=ZoneInfo(zone))
        pace = evaluate(
            target_minor=target,
            achieved_minor=0,
            period=period,
            as_of=end,
            availability=availability,
        )
        assert pace.expected_to_date_minor == running
    assert running == target
