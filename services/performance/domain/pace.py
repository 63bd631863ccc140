"""Pace: how a rep stands against the calendar, and where they will land at period end.

Pure functions of plain values. Money is integer minor units; shares are exact fractions so
that a projection never drifts by a cent because of binary floating point.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.domain_errors import InvalidInput

_MICROSECOND = timedelta(microseconds=1)
_ZERO = Fraction(0)
_ONE = Fraction(1)


class PaceStatus(StrEnum):
    """How a rep's projection compares with their target."""

    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    STRUGGLING = "struggling"


_SEVERITY = {PaceStatus.ON_TRACK: 0, PaceStatus.AT_RISK: 1, PaceStatus.STRUGGLING: 2}


def _decimal(value: object, name: str) -> Decimal:
    # Floats are refused: 0.1 as a float is not 0.1, and thresholds decide who gets flagged.
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise InvalidInput(f"{name} must be a decimal, not {type(value).__name__}", field=name)
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise InvalidInput(f"{name} is not a decimal: {value!r}", field=name) from None
    if not result.is_finite():
        raise InvalidInput(f"{name} must be finite", field=name)
    return result


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
        starts_at = _as_utc(self.starts_at, "starts_at")
        ends_at = _as_utc(self.ends_at, "ends_at")
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
            starts_at=_local_midnight(starts_on, zone),
            ends_at=_local_midnight(ends_on + timedelta(days=1), zone),
            timezone=timezone,
            seasonality=seasonality,
        )


@dataclass(frozen=True)
class Thresholds:
    """A team's pace thresholds, as ratios of projection to target."""

    at_risk_below: Decimal = Decimal("0.9")
    struggling_below: Decimal = Decimal("0.7")
    hysteresis: Decimal = Decimal("0.05")
    min_elapsed_share: Decimal = Decimal("0.1")

    def __post_init__(self) -> None:
        for name in ("at_risk_below", "struggling_below", "hysteresis", "min_elapsed_share"):
            object.__setattr__(self, name, _decimal(getattr(self, name), name))
        if not Decimal(0) <= self.struggling_below <= self.at_risk_below:
            raise InvalidInput("need 0 <= struggling_below <= at_risk_below")
        if self.hysteresis < 0:
            raise InvalidInput("hysteresis must not be negative", field="hysteresis")
        if not Decimal(0) <= self.min_elapsed_share <= Decimal(1):
            raise InvalidInput("min_elapsed_share must be within [0, 1]", field="min_elapsed_share")


DEFAULT_THRESHOLDS = Thresholds()


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
class Availability:
    """When a rep is expected to sell: not while absent, not before starts_on, ramped after.

    Absences are whole local days (both ends inclusive) in the period's time zone. The ramp
    schedule holds one factor per month since ``starts_on`` (the last one holds); a day's
    expected sales scale by it, so a ramping rep is expected to sell less in their first months.
    """

    absences: tuple[tuple[date, date], ...] = ()
    starts_on: date | None = None
    ramp_schedule: tuple[Fraction, ...] = ()

    @property
    def plain(self) -> bool:
        """True when nothing here changes the calendar (the period's own pace applies)."""
        return not self.absences and self.starts_on is None and not self.ramp_schedule

    def factor(self, day: date) -> Fraction:
        """How much of a normal day's sales is expected on a local day."""
        if any(start <= day <= end for start, end in self.absences):
            return _ZERO
        if self.starts_on is not None and day < self.starts_on:
            return _ZERO
        if not self.ramp_schedule:
            return _ONE
        start = self.starts_on or day
        months = (day.year - start.year) * 12 + day.month - start.month
        if day.day < start.day:
            months -= 1
        return self.ramp_schedule[min(max(months, 0), len(self.ramp_schedule) - 1)]

    def away(self, period: Period, as_of: datetime) -> bool:
        """True when the rep is absent on the local day of ``as_of``."""
        day = _as_utc(as_of, "as_of").astimezone(_zone(period.timezone)).date()
        return any(start <= day <= end for start, end in self.absences)


def expected_share(
    period: Period, as_of: datetime, availability: Availability | None = None
) -> Fraction:
    """Return the share of the period's target expected by ``as_of``, within [0, 1]."""
    now = _as_utc(as_of, "as_of")
    if availability is not None and not availability.plain:
        return _available_share(period, now, availability)
    if now <= period.starts_at:
        return _ZERO
    if now >= period.ends_at:
        return _ONE
    if period.seasonality is None:
        return Fraction(_micros(now - period.starts_at), _micros(period.ends_at - period.starts_at))
    elapsed: dict[int, int] = defaultdict(int)
    total: dict[int, int] = defaultdict(int)
    for month, start, end in _month_segments(period):
        total[month] += _micros(end - start)
        elapsed[month] += _micros(min(max(now, start), end) - start)
    # Each month's weight is spread evenly over that month's days in the period.
    weighted = (
        Fraction(weight) * Fraction(elapsed[month], total[month])
        for month, weight in period.seasonality.items()
    )
    return sum(weighted, _ZERO)


def _day_pieces(period: Period) -> list[tuple[int, date, datetime, datetime]]:
    """The period cut into local days: (month, local date, start, end) instants."""
    zone = _zone(period.timezone)
    pieces = []
    cursor = period.starts_at
    day = cursor.astimezone(zone).date()
    while cursor < period.ends_at:
        end = min(_local_midnight(day + timedelta(days=1), zone), period.ends_at)
        pieces.append((day.month, day, cursor, end))
        cursor, day = end, day + timedelta(days=1)
    return pieces


def _available_share(period: Period, now: datetime, availability: Availability) -> Fraction:
    """Expected share over the days the rep works, each weighted by seasonality and ramp."""
    if now <= period.starts_at:
        return _ZERO
    if now >= period.ends_at:
        return _ONE
    pieces = _day_pieces(period)
    month_total: dict[int, int] = defaultdict(int)
    for month, _, start, end in pieces:
        month_total[month] += _micros(end - start)
    weights = period.seasonality
    expected = whole = _ZERO
    for month, day, start, end in pieces:
        factor = availability.factor(day)
        if not factor:
            continue
        # The same density as the period's own pace (a month's weight over its time), times
        # the day's factor: absent days carry nothing, so the rest carries the whole period.
        if weights is None:
            density = Fraction(1)
        else:
            density = Fraction(weights.get(month, Decimal(0))) / month_total[month]
        whole += density * factor * _micros(end - start)
        expected += density * factor * _micros(min(max(now, start), end) - start)
    if whole == 0:
        return _ZERO
    return expected / whole


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


def classify(
    *,
    ratio: Fraction,
    share: Fraction,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    previous_status: PaceStatus | None = None,
    away: bool = False,
) -> PaceStatus:
    """Return the status for a projection/target ratio, with hysteresis and an early grace."""
    entering = _status_for(ratio, thresholds.struggling_below, thresholds.at_risk_below)
    if previous_status is None:
        status = entering
    else:
        # Recovery needs the threshold plus hysteresis, so a rep hovering at a threshold
        # does not flap between statuses (and trigger a rebalance) on every evaluation.
        recovering = _status_for(
            ratio,
            thresholds.struggling_below + thresholds.hysteresis,
            thresholds.at_risk_below + thresholds.hysteresis,
        )
        status = _worse(entering, _better(previous_status, recovering))
    if away or share == 0 or share < _exact(thresholds.min_elapsed_share):
        # Too early to judge (a projection from a sliver of the period is noise), or away: nobody
        # gets worse than they were (or than on_track) yet; improvements still count.
        floor = previous_status or PaceStatus.ON_TRACK
        status = _better(status, floor)
    return status


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
        # Nothing to reach: any non-negative result fully meets a zero target.
        percent = Decimal("100.00") if achieved_minor >= 0 else Decimal("0.00")
        status = PaceStatus.ON_TRACK
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
        expected_to_date_minor=_round_half_up(target_minor * share),
        projected_minor=projected,
        status=status,
        shortfall_minor=max(0, target_minor - projected) if behind else 0,
        share=share,
    )


def _status_for(ratio: Fraction, struggling_below: Decimal, at_risk_below: Decimal) -> PaceStatus:
    if ratio < _exact(struggling_below):
        return PaceStatus.STRUGGLING
    if ratio < _exact(at_risk_below):
        return PaceStatus.AT_RISK
    return PaceStatus.ON_TRACK


def _worse(a: PaceStatus, b: PaceStatus) -> PaceStatus:
    return a if _SEVERITY[a] >= _SEVERITY[b] else b


def _better(a: PaceStatus, b: PaceStatus) -> PaceStatus:
    return a if _SEVERITY[a] <= _SEVERITY[b] else b


def _status(value: PaceStatus | str | None) -> PaceStatus | None:
    if value is None:
        return None
    try:
        return PaceStatus(value)
    except ValueError:
        raise InvalidInput(f"unknown pace status {value!r}", field="previous_status") from None


@lru_cache(maxsize=256)
def _exact(threshold: Decimal) -> Fraction:
    # A team's few thresholds, converted once rather than for every member of every page.
    return Fraction(threshold)


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


def _as_utc(instant: datetime, name: str) -> datetime:
    if not isinstance(instant, datetime):
        raise InvalidInput(f"{name} must be a datetime", field=name)
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise InvalidInput(f"{name} must carry a UTC offset", field=name)
    return instant.astimezone(UTC)


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    # Where midnight does not exist (DST starting at 00:00), fold=0 maps it to the
    # transition instant, which is exactly when that local day begins.
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def _start_of_local_day(instant: datetime, zone: ZoneInfo) -> datetime:
    return _local_midnight(instant.astimezone(zone).date(), zone)


def _month_segments(period: Period) -> list[tuple[int, datetime, datetime]]:
    """Split a period at local month boundaries into (month, start, end) instants."""
    zone = _zone(period.timezone)
    segments = []
    cursor = period.starts_at
    day = cursor.astimezone(zone).date()
    while cursor < period.ends_at:
        first_of_next = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        end = min(_local_midnight(first_of_next, zone), period.ends_at)
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
        weight = _decimal(raw, "seasonality")
        if weight < 0:
            raise InvalidInput(f"month {month} has a negative weight", field="seasonality")
        weights[month] = weight
    if sum(weights.values(), Decimal(0)) != 1:
        raise InvalidInput("seasonality weights must sum to 1", field="seasonality")
    return weights


def _require_int(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be an integer amount of minor units", field=name)
