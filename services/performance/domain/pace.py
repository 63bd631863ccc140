"""Pace: how a rep stands against the calendar, and where they will land at period end.

Pure functions of plain values. Money is integer minor units; shares are exact fractions so
that a projection never drifts by a cent because of binary floating point.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.day_model import Calendar, Workdays, local_midnight, running_minor, share_at_instant
from shared.domain_errors import InvalidInput
from shared.pace_status import (
    DEFAULT_THRESHOLDS,
    PaceStatus,
    Thresholds,
    classify,
    exact_decimal,
)

__all__ = [
    "DEFAULT_THRESHOLDS",
    "Availability",
    "Pace",
    "PaceStatus",
    "Period",
    "Thresholds",
    "classify",
    "evaluate",
    "expected_share",
    "projected_minor",
]

_MICROSECOND = timedelta(microseconds=1)
_ZERO = Fraction(0)
_ONE = Fraction(1)


@dataclass(frozen=True)
class Period:
    """A target period: whole local days ``[starts_at, ends_at)`` in one IANA time zone.

    ``ends_at`` is exclusive: the local midnight after the last day. Both bounds are kept as
    UTC instants, because subtracting two datetimes that share a tzinfo ignores DST.
    ``seasonality`` maps calendar months (1..12) to weights that sum to 1; a month of the
    period that is missing weighs 0. When a calendar month occurs twice in a period (a
    period longer than a year, or one starting mid-month), its weight is spread over all of
    its days in the period.
    """

    starts_at: datetime
    ends_at: datetime
    timezone: str = "UTC"
    # Left out of the hash (a mapping is unhashable); equality still compares it.
    seasonality: Mapping[int, Decimal] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        zone = _zone(self.timezone)
        starts_at = _in_utc(self.starts_at, "starts_at")
        ends_at = _in_utc(self.ends_at, "ends_at")
        if ends_at <= starts_at:
            raise InvalidInput("a period must end after it starts", field="ends_at")
        for name, instant in (("starts_at", starts_at), ("ends_at", ends_at)):
            if instant != _start_of_local_day(instant, zone):
                raise InvalidInput(
                    f"{name} must be the start of a day in {self.timezone}", field=name
                )
        object.__setattr__(self, "starts_at", starts_at)
        object.__setattr__(self, "ends_at", ends_at)
        if self.seasonality is not None:
            weights = _validated_seasonality(self.seasonality, _month_segments(self))
            # A read-only copy keeps the frozen period immune to later edits of the caller's dict.
            object.__setattr__(self, "seasonality", MappingProxyType(weights))

    @classmethod
    def from_dates(
        cls,
        *,
        starts_on: date,
        ends_on: date,
        timezone: str = "UTC",
        seasonality: Mapping[int, Decimal] | None = None,
    ) -> Period:
        """Build a period from its first and last day (both inclusive) in its time zone."""
        zone = _zone(timezone)
        return cls(
            starts_at=local_midnight(starts_on, zone),
            ends_at=local_midnight(ends_on + timedelta(days=1), zone),
            timezone=timezone,
            seasonality=seasonality,
        )


@dataclass(frozen=True)
class Pace:
    """One rep's standing in a period at one instant."""

    target_minor: int
    achieved_minor: int
    percent: Decimal
    expected_to_date_minor: int
    projected_minor: int
    status: PaceStatus
    shortfall_minor: int
    share: Fraction


@dataclass(frozen=True)
class Availability(Workdays):
    """When a rep is expected to sell: not while absent, not before starts_on, ramped after.

    Absences are whole local days (both ends inclusive) in the period's time zone. The ramp
    schedule holds one factor per month since ``starts_on`` (the last one holds); a day's
    expected sales scale by it, so a ramping rep is expected to sell less in their first months.
    """

    def away(self, period: Period, as_of: datetime) -> bool:
        """True when the rep is absent on the local day of ``as_of``."""
        day = _in_utc(as_of, "as_of").astimezone(_zone(period.timezone)).date()
        return any(start <= day <= end for start, end in self.absences)


_PLAIN = Workdays()


def expected_share(
    period: Period, as_of: datetime, availability: Availability | None = None
) -> Fraction:
    """Return the share of the period's target expected by ``as_of``, within [0, 1].

    The shared day model (``shared.day_model``) gives the share at each local midnight, the
    same running share goals' target schedule is cut by; within a day it grows evenly over the
    day's real length, so a DST day weighs one day and its hours pass at their own pace.
    """
    now = _in_utc(as_of, "as_of")
    if now <= period.starts_at:
        return _ZERO
    if now >= period.ends_at:
        return _ONE
    zone = _zone(period.timezone)
    return share_at_instant(calendar_of(period), availability or _PLAIN, zone, now)


@lru_cache(maxsize=256)
def calendar_of(period: Period) -> Calendar:
    """A period's local days and weights in the day model shared with goals."""
    zone = _zone(period.timezone)
    return Calendar.of(
        period.starts_at.astimezone(zone).date(),
        period.ends_at.astimezone(zone).date() - timedelta(days=1),
        period.seasonality,
    )


def projected_minor(achieved_minor: int, share: Fraction) -> int:
    """Project period-end attainment as ``achieved / share``, rounded half-up to a minor unit.

    At share 0 nothing was expected yet, so there is no pace to extrapolate from: the
    projection is what has been achieved so far.
    """
    share = Fraction(share)
    if not _ZERO <= share <= _ONE:
        raise InvalidInput("share must be within [0, 1]", field="share")
    if share == 0:
        return achieved_minor
    return _round_half_up(Fraction(achieved_minor) / share)


def evaluate(
    *,
    target_minor: int,
    achieved_minor: int,
    period: Period,
    as_of: datetime,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    previous_status: PaceStatus | str | None = None,
    availability: Availability | None = None,
) -> Pace:
    """Evaluate one rep's pace in a period as of an instant (over their available days)."""
    _require_int(target_minor, "target_minor")
    _require_int(achieved_minor, "achieved_minor")
    if target_minor < 0:
        raise InvalidInput("target must not be negative", field="target_minor")
    previous = _status(previous_status)
    share = expected_share(period, as_of, availability)
    projected = projected_minor(achieved_minor, share)
    if target_minor == 0:
        percent, status = _zero_target(achieved_minor)
    else:
        percent = Decimal(_round_half_up(Fraction(achieved_minor * 10_000, target_minor)))
        percent = percent.scaleb(-2)
        status = classify(
            ratio=Fraction(projected, target_minor),
            share=share,
            thresholds=thresholds,
            previous_status=previous,
            away=availability is not None and availability.away(period, as_of),
        )
    behind = status in (PaceStatus.AT_RISK, PaceStatus.STRUGGLING)
    return Pace(
        target_minor=target_minor,
        achieved_minor=achieved_minor,
        percent=percent,
        expected_to_date_minor=running_minor(target_minor, share),
        projected_minor=projected,
        status=status,
        shortfall_minor=max(0, target_minor - projected) if behind else 0,
        share=share,
    )


def _zero_target(achieved_minor: int) -> tuple[Decimal, PaceStatus]:
    """A zero target is met by any non-negative result, but nothing sold is not on track."""
    percent = Decimal("100.00") if achieved_minor >= 0 else Decimal("0.00")
    return percent, PaceStatus.ON_TRACK if achieved_minor > 0 else PaceStatus.NO_TARGET


def _status(value: PaceStatus | str | None) -> PaceStatus | None:
    if value is None:
        return None
    try:
        status = PaceStatus(value)
    except ValueError:
        raise InvalidInput(f"unknown pace status {value!r}", field="previous_status") from None
    # Out of a zero target there is no earlier pace to recover from: judge afresh.
    return None if status is PaceStatus.NO_TARGET else status


def _round_half_up(value: Fraction) -> int:
    # Half away from zero, like decimal.ROUND_HALF_UP, so refunds round symmetrically.
    # floor(|n|/d + 1/2) in integers: exact, and no Fraction arithmetic on a hot path.
    value = Fraction(value)
    numerator, denominator = abs(value.numerator), value.denominator
    magnitude = (2 * numerator + denominator) // (2 * denominator)
    return -magnitude if value < 0 else magnitude


def _micros(delta: timedelta) -> int:
    return delta // _MICROSECOND


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {name!r}", field="timezone") from None


def _in_utc(instant: datetime, name: str) -> datetime:
    if not isinstance(instant, datetime):
        raise InvalidInput(f"{name} must be a datetime", field=name)
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise InvalidInput(f"{name} must carry a UTC offset", field=name)
    return instant.astimezone(UTC)


def _start_of_local_day(instant: datetime, zone: ZoneInfo) -> datetime:
    return local_midnight(instant.astimezone(zone).date(), zone)


def _month_segments(period: Period) -> list[tuple[int, datetime, datetime]]:
    """Split a period at local month boundaries into (month, start, end) instants."""
    zone = _zone(period.timezone)
    segments = []
    cursor = period.starts_at
    day = cursor.astimezone(zone).date()
    while cursor < period.ends_at:
        first_of_next = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        end = min(local_midnight(first_of_next, zone), period.ends_at)
        segments.append((day.month, cursor, end))
        cursor, day = end, first_of_next
    return segments


def _validated_seasonality(
    seasonality: Mapping[int, Decimal], segments: list[tuple[int, datetime, datetime]]
) -> dict[int, Decimal]:
    months_in_period = {month for month, _, _ in segments}
    weights: dict[int, Decimal] = {}
    for month, raw in seasonality.items():
        if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
            raise InvalidInput(f"seasonality month {month!r} is not 1..12", field="seasonality")
        if month not in months_in_period:
            raise InvalidInput(f"month {month} is not in the period", field="seasonality")
        weight = exact_decimal(raw, "seasonality")
        if weight < 0:
            raise InvalidInput(f"month {month} has a negative weight", field="seasonality")
        weights[month] = weight
    if sum(weights.values(), Decimal(0)) != 1:
        raise InvalidInput("seasonality weights must sum to 1", field="seasonality")
    return weights


def _require_int(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be an integer amount of minor units", field=name)
