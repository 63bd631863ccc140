"""Pace: expected share, projection and status, as a sales manager would read them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.performance.domain.pace import (
    Pace,
    PaceStatus,
    Period,
    Thresholds,
    classify,
    evaluate,
    expected_share,
    projected_minor,
)
from shared.domain_errors import InvalidInput

pytestmark = pytest.mark.unit

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

Q1_UTC = Period.from_dates(starts_on=date(2026, 1, 1), ends_on=date(2026, 3, 31))
MARCH_BERLIN = Period.from_dates(
    starts_on=date(2026, 3, 1), ends_on=date(2026, 3, 31), timezone="Europe/Berlin"
)  # clocks go forward on 29 March 2026: the month has 743 hours
NOVEMBER_NEW_YORK = Period.from_dates(
    starts_on=date(2026, 11, 1), ends_on=date(2026, 11, 30), timezone="America/New_York"
)  # clocks go back on 1 November 2026: the month has 721 hours
Q4_SEASONAL = Period.from_dates(
    starts_on=date(2026, 10, 1),
    ends_on=date(2026, 12, 31),
    seasonality={10: Decimal("0.2"), 11: Decimal("0.3"), 12: Decimal("0.5")},
)
SPRING_BERLIN_SEASONAL = Period.from_dates(
    starts_on=date(2026, 3, 1),
    ends_on=date(2026, 4, 30),
    timezone="Europe/Berlin",
    seasonality={3: Decimal("0.4"), 4: Decimal("0.6")},
)
# A fiscal year from 15 January: January occurs twice (15-31 Jan 2026 and 1-14 Jan 2027).
FISCAL_YEAR_SEASONAL = Period.from_dates(
    starts_on=date(2026, 1, 15),
    ends_on=date(2027, 1, 14),
    seasonality={1: Decimal("0.1"), 2: Decimal("0.1")}
    | {month: Decimal("0.08") for month in range(3, 13)},
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("period", "as_of", "share"),
    [
        pytest.param(Q1_UTC, utc(2025, 12, 31), Fraction(0), id="before-start"),
        pytest.param(Q1_UTC, utc(2026, 1, 1), Fraction(0), id="at-start"),
        pytest.param(Q1_UTC, utc(2026, 2, 15), Fraction(45, 90), id="half-way-in-days"),
        pytest.param(Q1_UTC, utc(2026, 1, 1, 12), Fraction(1, 180), id="half-a-day"),
        pytest.param(Q1_UTC, utc(2026, 4, 1), Fraction(1), id="at-end"),
        pytest.param(Q1_UTC, utc(2026, 6, 1), Fraction(1), id="after-end-is-clamped"),
        pytest.param(
            MARCH_BERLIN,
            datetime(2026, 3, 29, tzinfo=BERLIN),
            Fraction(28, 31),
            id="berlin-before-dst",
        ),
        pytest.param(
            MARCH_BERLIN,
            datetime(2026, 3, 30, tzinfo=BERLIN),
            Fraction(29, 31),
            id="berlin-after-the-23-hour-day-weighs-one-day",
        ),
        pytest.param(
            MARCH_BERLIN,
            datetime(2026, 3, 29, 12, tzinfo=BERLIN),
            Fraction(28, 31) + Fraction(1, 31) * Fraction(11, 23),
            id="berlin-noon-of-the-23-hour-day-is-11-of-its-23-hours",
        ),
        pytest.param(
            MARCH_BERLIN,
            utc(2026, 2, 28, 23),
            Fraction(0),
            id="berlin-local-midnight-is-23h-utc",
        ),
        pytest.param(
            NOVEMBER_NEW_YORK,
            datetime(2026, 11, 2, tzinfo=NEW_YORK),
            Fraction(1, 30),
            id="new-york-after-the-25-hour-day",
        ),
    ],
)
def test_expected_share_counts_local_days_and_real_time_within_a_day(
    period: Period, as_of: datetime, share: Fraction
) -> None:
    assert expected_share(period, as_of) == share


@pytest.mark.parametrize(
    ("period", "as_of", "share"),
    [
        pytest.param(Q4_SEASONAL, utc(2026, 10, 1), Fraction(0), id="start"),
        pytest.param(Q4_SEASONAL, utc(2026, 11, 1), Fraction(1, 5), id="october-done"),
        pytest.param(
            Q4_SEASONAL,
            utc(2026, 11, 16),
            Fraction(1, 5) + Fraction(3, 10) * Fraction(15, 30),
            id="mid-november",
        ),
        pytest.param(
            Q4_SEASONAL,
            utc(2026, 12, 17),
            Fraction(1, 2) + Fraction(1, 2) * Fraction(16, 31),
            id="december-weighs-half",
        ),
        pytest.param(Q4_SEASONAL, utc(2027, 1, 1), Fraction(1), id="end"),
        pytest.param(
            SPRING_BERLIN_SEASONAL,
            datetime(2026, 4, 1, tzinfo=BERLIN),
            Fraction(2, 5),
            id="berlin-month-boundary-is-local-midnight",
        ),
        pytest.param(
            SPRING_BERLIN_SEASONAL,
            datetime(2026, 3, 30, tzinfo=BERLIN),
            Fraction(2, 5) * Fraction(29, 31),
            id="berlin-march-weight-spread-over-its-31-days",
        ),
        pytest.param(
            FISCAL_YEAR_SEASONAL,
            utc(2026, 2, 1),
            Fraction(1, 10) * Fraction(17, 31),
            id="repeated-january-shares-its-weight-over-all-its-days",
        ),
    ],
)
def test_expected_share_follows_seasonality_month_by_month(
    period: Period, as_of: datetime, share: Fraction
) -> None:
    assert expected_share(period, as_of) == share


@pytest.mark.parametrize(
    ("achieved", "share", "projected"),
    [
        pytest.param(5_000, Fraction(1, 2), 10_000, id="half-way"),
        pytest.param(10_000, Fraction(1), 10_000, id="period-over"),
        pytest.param(100, Fraction(3, 7), 233, id="rounds-down-below-half"),
        pytest.param(1, Fraction(2, 3), 2, id="half-rounds-up"),
        pytest.param(-1, Fraction(2, 3), -2, id="half-rounds-away-from-zero"),
        pytest.param(0, Fraction(1, 2), 0, id="nothing-sold"),
        pytest.param(700, Fraction(0), 700, id="nothing-expected-yet-projects-achieved"),
    ],
)
def test_projection_is_achieved_over_share_in_whole_minor_units(
    achieved: int, share: Fraction, projected: int
) -> None:
    assert projected_minor(achieved, share) == projected


def test_projection_refuses_a_share_outside_zero_to_one() -> None:
    with pytest.raises(InvalidInput):
        projected_minor(100, Fraction(3, 2))


def test_seasonality_can_change_the_verdict_on_the_same_sales() -> None:
    plain = Period.from_dates(starts_on=date(2026, 10, 1), ends_on=date(2026, 12, 31))
    as_of = utc(2026, 11, 16)  # 46 of 92 days gone; 35 % of the seasonal year expected
    flat = evaluate(target_minor=100_000, achieved_minor=35_000, period=plain, as_of=as_of)
    seasonal = evaluate(
        target_minor=100_000, achieved_minor=35_000, period=Q4_SEASONAL, as_of=as_of
    )
    assert flat == Pace(
        target_minor=100_000,
        achieved_minor=35_000,
        percent=Decimal("35.00"),
        expected_to_date_minor=50_000,
        projected_minor=70_000,
        status=PaceStatus.AT_RISK,
        shortfall_minor=30_000,
        share=Fraction(1, 2),
    )
    assert seasonal == Pace(
        target_minor=100_000,
        achieved_minor=35_000,
        percent=Decimal("35.00"),
        expected_to_date_minor=35_000,
        projected_minor=100_000,
        status=PaceStatus.ON_TRACK,
        shortfall_minor=0,
        share=Fraction(7, 20),
    )


@pytest.mark.parametrize(
    ("previous", "ratio", "status"),
    [
        pytest.param(None, "0.95", "on_track", id="fresh-on-track"),
        pytest.param(None, "0.89", "at_risk", id="fresh-at-risk"),
        pytest.param(None, "0.69", "struggling", id="fresh-struggling"),
        pytest.param("on_track", "0.90", "on_track", id="at-threshold-is-not-below"),
        pytest.param("on_track", "0.89", "at_risk", id="entering-worse-uses-threshold"),
        pytest.param("on_track", "0.70", "at_risk", id="straight-to-at-risk-at-70"),
        pytest.param("at_risk", "0.6999", "struggling", id="entering-struggling"),
        pytest.param("at_risk", "0.92", "at_risk", id="recovery-needs-hysteresis"),
        pytest.param("at_risk", "0.95", "on_track", id="recovered-at-threshold-plus-5"),
        pytest.param("struggling", "0.72", "struggling", id="still-struggling-below-75"),
        pytest.param("struggling", "0.75", "at_risk", id="out-of-struggling-at-75"),
        pytest.param("struggling", "0.94", "at_risk", id="not-on-track-below-95"),
        pytest.param("struggling", "0.95", "on_track", id="jumps-to-on-track-at-95"),
        pytest.param("struggling", "1.20", "on_track", id="far-ahead"),
    ],
)
def test_status_enters_at_thresholds_and_recovers_only_past_hysteresis(
    previous: str | None, ratio: str, status: str
) -> None:
    got = classify(
        ratio=Fraction(Decimal(ratio)),
        share=Fraction(1, 2),
        thresholds=Thresholds(),
        previous_status=PaceStatus(previous) if previous else None,
    )
    assert got == status


@pytest.mark.parametrize(
    ("previous", "ratio", "share", "status"),
    [
        pytest.param(None, "0", Fraction(1, 20), "on_track", id="nothing-sold-too-early"),
        pytest.param("on_track", "0.5", Fraction(1, 20), "on_track", id="keeps-on-track"),
        pytest.param("at_risk", "0.1", Fraction(1, 20), "at_risk", id="keeps-previous"),
        pytest.param("at_risk", "1", Fraction(1, 20), "on_track", id="may-still-improve"),
        pytest.param(None, "0.8", Fraction(0), "on_track", id="nothing-expected-at-start"),
        pytest.param(None, "0", Fraction(1, 10), "struggling", id="judged-from-10-percent"),
    ],
)
def test_nobody_gets_worse_before_the_minimum_elapsed_share(
    previous: str | None, ratio: str, share: Fraction, status: str
) -> None:
    got = classify(
        ratio=Fraction(Decimal(ratio)),
        share=share,
        previous_status=PaceStatus(previous) if previous else None,
    )
    assert got == status


def test_thresholds_are_the_teams_to_set() -> None:
    strict = Thresholds(
        at_risk_below=Decimal("0.95"),
        struggling_below=Decimal("0.8"),
        hysteresis=Decimal("0"),
        min_elapsed_share=Decimal("0.25"),
    )
    assert classify(ratio=Fraction(79, 100), share=Fraction(1, 4), thresholds=strict) == (
        PaceStatus.STRUGGLING
    )
    assert classify(ratio=Fraction(79, 100), share=Fraction(1, 5), thresholds=strict) == (
        PaceStatus.ON_TRACK
    )


def test_a_rep_with_no_sales_becomes_struggling_by_time_alone() -> None:
    april = Period.from_dates(
        starts_on=date(2026, 4, 1), ends_on=date(2026, 4, 30), timezone="Europe/Berlin"
    )
    status: PaceStatus | None = None
    history = []
    for day in range(0, 31):
        as_of = datetime(2026, 4, 1, tzinfo=BERLIN) + timedelta(days=day)
        pace = evaluate(
            target_minor=3_000_000,
            achieved_minor=0,
            period=april,
            as_of=as_of,
            thresholds=Thresholds(),
            previous_status=status,
        )
        status = pace.status
        history.append(pace)
    # Days 0-2 are under 10 % of April: too early to judge. From day 3 (exactly 10 %) on,
    # a projection of nothing is below 70 % of target, whatever else happens.
    assert [pace.status for pace in history[:3]] == [PaceStatus.ON_TRACK] * 3
    assert all(pace.status == PaceStatus.STRUGGLING for pace in history[3:])
    day_three = history[3]
    assert day_three.share == Fraction(1, 10)
    assert day_three.expected_to_date_minor == 300_000
    assert day_three.projected_minor == 0
    assert day_three.shortfall_minor == 3_000_000
    assert day_three.percent == Decimal("0.00")
    assert history[-1].expected_to_date_minor == 3_000_000


@pytest.mark.parametrize(
    ("target", "achieved", "percent"),
    [
        pytest.param(3, 1, Decimal("33.33"), id="thirds-round-down"),
        pytest.param(3, 2, Decimal("66.67"), id="thirds-round-up"),
        pytest.param(800, 1_000, Decimal("125.00"), id="above-target"),
        pytest.param(0, 0, Decimal("100.00"), id="zero-target-is-met"),
        pytest.param(0, 500, Decimal("100.00"), id="zero-target-exceeded"),
    ],
)
def test_percent_is_achieved_over_target_with_two_decimals(
    target: int, achieved: int, percent: Decimal
) -> None:
    pace = evaluate(
        target_minor=target, achieved_minor=achieved, period=Q1_UTC, as_of=utc(2026, 3, 1)
    )
    assert pace.percent == percent
    assert pace.percent.as_tuple().exponent == -2


@pytest.mark.parametrize("achieved", [0, -500])
def test_a_zero_target_with_nothing_sold_is_no_target_never_on_track(achieved: int) -> None:
    pace = evaluate(target_minor=0, achieved_minor=achieved, period=Q1_UTC, as_of=utc(2026, 3, 30))
    assert (pace.status, pace.shortfall_minor, pace.expected_to_date_minor) == (
        PaceStatus.NO_TARGET,
        0,
        0,
    )


def test_a_zero_target_with_a_sale_is_on_track() -> None:
    pace = evaluate(target_minor=0, achieved_minor=1, period=Q1_UTC, as_of=utc(2026, 3, 30))
    assert (pace.status, pace.shortfall_minor) == (PaceStatus.ON_TRACK, 0)


def test_a_target_given_after_no_target_is_judged_afresh() -> None:
    pace = evaluate(
        target_minor=10_000,
        achieved_minor=1_000,
        period=Q1_UTC,
        as_of=utc(2026, 3, 1),
        previous_status="no_target",
    )
    assert pace.status is PaceStatus.STRUGGLING


def test_shortfall_is_reported_only_for_reps_behind() -> None:
    ahead = evaluate(
        target_minor=10_000, achieved_minor=6_000, period=Q1_UTC, as_of=utc(2026, 2, 15)
    )
    behind = evaluate(
        target_minor=10_000, achieved_minor=4_000, period=Q1_UTC, as_of=utc(2026, 2, 15)
    )
    assert (ahead.status, ahead.projected_minor, ahead.shortfall_minor) == (
        PaceStatus.ON_TRACK,
        12_000,
        0,
    )
    assert (behind.status, behind.projected_minor, behind.shortfall_minor) == (
        PaceStatus.AT_RISK,
        8_000,
        2_000,
    )


def test_previous_status_may_be_given_as_its_wire_string() -> None:
    pace = evaluate(
        target_minor=10_000,
        achieved_minor=4_600,
        period=Q1_UTC,
        as_of=utc(2026, 2, 15),
        previous_status="struggling",
    )
    assert pace.status == PaceStatus.AT_RISK  # 0.92 is past 0.75 but short of 0.95


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(
            lambda: Period(starts_at=utc(2026, 1, 1, 1), ends_at=utc(2026, 2, 1)),
            id="start-not-midnight",
        ),
        pytest.param(
            lambda: Period(
                starts_at=utc(2026, 1, 1), ends_at=utc(2026, 2, 1), timezone="Europe/Berlin"
            ),
            id="utc-midnight-is-not-berlin-midnight",
        ),
        pytest.param(
            lambda: Period(starts_at=datetime(2026, 1, 1), ends_at=utc(2026, 2, 1)),
            id="naive-start",
        ),
        pytest.param(
            lambda: Period(starts_at=utc(2026, 2, 1), ends_at=utc(2026, 2, 1)), id="empty"
        ),
        pytest.param(
            lambda: Period(starts_at=utc(2026, 1, 1), ends_at=utc(2026, 2, 1), timezone="Mars/X"),
            id="unknown-zone",
        ),
        pytest.param(
            lambda: Period.from_dates(
                starts_on=date(2026, 1, 1),
                ends_on=date(2026, 2, 28),
                seasonality={1: Decimal("0.5"), 2: Decimal("0.4")},
            ),
            id="weights-not-summing-to-one",
        ),
        pytest.param(
            lambda: Period.from_dates(
                starts_on=date(2026, 1, 1),
                ends_on=date(2026, 1, 31),
                seasonality={1: Decimal("0.5"), 7: Decimal("0.5")},
            ),
            id="month-outside-period",
        ),
        pytest.param(
            lambda: Period.from_dates(
                starts_on=date(2026, 1, 1),
                ends_on=date(2026, 2, 28),
                seasonality={1: 0.5, 2: 0.5},
            ),
            id="float-weights",
        ),
        pytest.param(
            lambda: Period.from_dates(
                starts_on=date(2026, 1, 1),
                ends_on=date(2026, 2, 28),
                seasonality={1: Decimal("1.5"), 2: Decimal("-0.5")},
            ),
            id="negative-weight",
        ),
    ],
)
def test_invalid_periods_are_refused(make) -> None:
    with pytest.raises(InvalidInput):
        make()


def test_a_day_whose_midnight_does_not_exist_starts_when_the_clocks_jump() -> None:
    # Chile moves clocks from 00:00 to 01:00 on 6 September 2026.
    day = Period.from_dates(
        starts_on=date(2026, 9, 6), ends_on=date(2026, 9, 6), timezone="America/Santiago"
    )
    assert day.starts_at.astimezone(ZoneInfo("America/Santiago")).hour == 1
    assert day.ends_at - day.starts_at == timedelta(hours=23)


def test_evaluate_refuses_negative_targets_and_naive_instants() -> None:
    with pytest.raises(InvalidInput):
        evaluate(target_minor=-1, achieved_minor=0, period=Q1_UTC, as_of=utc(2026, 2, 1))
    with pytest.raises(InvalidInput):
        evaluate(target_minor=1, achieved_minor=0, period=Q1_UTC, as_of=datetime(2026, 2, 1))


ZONES = ["UTC", "Europe/Berlin", "America/New_York", "America/Santiago", "Asia/Kolkata"]


@st.composite
def periods(draw: st.DrawFn) -> Period:
    starts_on = draw(st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 31)))
    ends_on = starts_on + timedelta(days=draw(st.integers(0, 400)))
    timezone = draw(st.sampled_from(ZONES))
    plain = Period.from_dates(starts_on=starts_on, ends_on=ends_on, timezone=timezone)
    if not draw(st.booleans()):
        return plain
    months = sorted(
        {date.fromordinal(d).month for d in range(starts_on.toordinal(), ends_on.toordinal() + 1)}
    )
    # Cut 100 hundredths into len(months) non-negative parts: weights that sum to exactly 1.
    cuts = sorted(
        draw(st.lists(st.integers(0, 100), min_size=len(months) - 1, max_size=len(months) - 1))
    )
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
    weights = {m: Decimal(p).scaleb(-2) for m, p in zip(months, parts, strict=True)}
    return Period.from_dates(
        starts_on=starts_on, ends_on=ends_on, timezone=timezone, seasonality=weights
    )


@settings(deadline=None)
@given(period=periods(), data=st.data())
def test_expected_share_never_goes_back_and_stays_within_zero_and_one(
    period: Period, data: st.DataObject
) -> None:
    span = int((period.ends_at - period.starts_at).total_seconds())
    offsets = st.integers(-2 * 86_400, span + 2 * 86_400)
    first, second = sorted([data.draw(offsets), data.draw(offsets)])
    earlier = period.starts_at + timedelta(seconds=first)
    later = period.starts_at + timedelta(seconds=second)
    assert 0 <= expected_share(period, earlier) <= expected_share(period, later) <= 1
    assert expected_share(period, period.starts_at) == 0
    assert expected_share(period, period.ends_at) == 1
