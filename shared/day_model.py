"""The day model of a target: how a period's target is spread over its local days.

Each local day of a period weighs its calendar month's seasonality weight shared evenly by that
month's days in the period (every day the same without seasonality), times what the rep is
expected to sell that day: nothing while absent or before ``starts_on``, their ramp step after.
The days a rep works carry the whole target. Goals cuts a target's schedule with this model and
performance judges pace with it: a schedule's slices are the differences of the rounded running
total at their ends, so pace's expected-to-date at the end of any slice, of any grain, is the
schedule's running sum to the minor unit. Pure functions of plain values; nothing does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from zoneinfo import ZoneInfo

_ONE_DAY = timedelta(days=1)
_MICRO = timedelta(microseconds=1)
_ZERO = Fraction(0)


@dataclass(frozen=True)
class Calendar:
    """A period as whole local days (both ends inclusive) with its monthly weights, if any."""

    starts_on: date
    ends_on: date
    # (calendar month, weight) pairs summing to 1; empty: every day weighs the same.
    seasonality: tuple[tuple[int, Fraction], ...] = ()

    @classmethod
    def of(
        cls,
        starts_on: date,
        ends_on: date,
        seasonality: Mapping[int, Decimal | Fraction] | None = None,
    ) -> Calendar:
        """A calendar from a period's first and last day and its (already validated) weights."""
        pairs = sorted((int(m), Fraction(w)) for m, w in (seasonality or {}).items())
        return cls(starts_on, ends_on, tuple(pairs))

    def days(self) -> Iterator[date]:
        """Every day of the period, in order."""
        day = self.starts_on
        while day <= self.ends_on:
            yield day
            day += _ONE_DAY


def ramp_step(day: date, starts_on: date | None, schedule: tuple[Fraction, ...]) -> Fraction:
    """The ramp factor on a day: the schedule's step for the months since starts_on (last holds)."""
    if not schedule:
        return Fraction(1)
    start = starts_on or day
    months = (day.year - start.year) * 12 + day.month - start.month
    if day.day < start.day:
        months -= 1  # a month since starts_on is complete on the same day of the next month
    return schedule[min(max(months, 0), len(schedule) - 1)]


@dataclass(frozen=True)
class Workdays:
    """When a rep is expected to sell: not while absent, not before starts_on, ramped after."""

    absences: tuple[tuple[date, date], ...] = ()
    starts_on: date | None = None
    ramp_schedule: tuple[Fraction, ...] = ()

    @property
    def plain(self) -> bool:
        """True when nothing here changes the calendar (the period's own weights apply)."""
        return not self.absences and self.starts_on is None and not self.ramp_schedule

    def factor(self, day: date) -> Fraction:
        """How much of a normal day's sales is expected on a local day."""
        if any(start <= day <= end for start, end in self.absences):
            return _ZERO
        if self.starts_on is not None and day < self.starts_on:
            return _ZERO
        return ramp_step(day, self.starts_on, self.ramp_schedule)


def day_weights(calendar: Calendar) -> tuple[Fraction, ...]:
    """The period's own weight of each day, in order; they add up to 1."""
    days = list(calendar.days())
    if not calendar.seasonality:
        return tuple(Fraction(1, len(days)) for _ in days)
    per_month: dict[int, int] = {}
    for day in days:
        per_month[day.month] = per_month.get(day.month, 0) + 1
    weights = dict(calendar.seasonality)
    return tuple(weights.get(d.month, _ZERO) / per_month[d.month] for d in days)


@lru_cache(maxsize=1024)
def running_shares(calendar: Calendar, workdays: Workdays = Workdays()) -> tuple[Fraction, ...]:
    """The share of the target expected by the end of each day; the last is exactly 1.

    Nobody working a single weighted day (absent all period, a ramp of zeros) leaves the
    period's own weights to carry the target, so a schedule still adds up and pace still has a
    calendar.
    """
    own = day_weights(calendar)
    worked = own
    if not workdays.plain:
        worked = tuple(w * workdays.factor(d) for d, w in zip(calendar.days(), own, strict=True))
    for weights in (worked, own, tuple(Fraction(1) for _ in own)):
        whole = sum(weights, _ZERO)
        if whole:
            break
    running: list[Fraction] = []
    total = _ZERO
    for weight in weights:
        total += weight
        running.append(total / whole)
    return tuple(running)


def share_at(calendar: Calendar, workdays: Workdays, day_index: int, part: Fraction) -> Fraction:
    """Share expected after ``part`` (0..1) of the day at ``day_index`` has passed."""
    running = running_shares(calendar, workdays)
    if day_index < 0:
        return _ZERO
    if day_index >= len(running):
        return Fraction(1)
    before = running[day_index - 1] if day_index else _ZERO
    return before + (running[day_index] - before) * part if part else before


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant a local day starts (where midnight does not exist, when clocks jump)."""
    # fold=0 maps a missing midnight (DST starting at 00:00) to the transition instant.
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def share_at_instant(
    calendar: Calendar, workdays: Workdays, zone: ZoneInfo, instant: datetime
) -> Fraction:
    """Share expected by an instant: the running share of its local day, met evenly over the day.

    The day's part grows over its real length, so a DST day still weighs one day.
    """
    day = instant.astimezone(zone).date()
    start = local_midnight(day, zone)
    length = local_midnight(day + _ONE_DAY, zone) - start
    # The instant lies within its own local day, so the part is within [0, 1).
    part = Fraction((instant - start) // _MICRO, length // _MICRO)
    return share_at(calendar, workdays, (day - calendar.starts_on).days, part)


def running_minor(total_minor: int, share: Fraction) -> int:
    """total x share rounded half up: the expected amount by a point with that running share."""
    exact = total_minor * Fraction(share)
    top, bottom = abs(exact.numerator), exact.denominator
    magnitude = (2 * top + bottom) // (2 * bottom)  # floor(|exact| + 1/2) in integers
    return -magnitude if exact < 0 else magnitude


@dataclass(frozen=True)
class DaySlice:
    """Consecutive days of a schedule: their weight and the amount expected over them."""

    starts_on: date
    ends_on: date
    weight: Fraction
    amount_minor: int


def slices(
    total_minor: int,
    calendar: Calendar,
    workdays: Workdays,
    key: Callable[[date], Hashable],
) -> list[DaySlice]:
    """Cut a total into runs of days with the same key; each slice is the running total's step.

    A slice's amount is round(total x running share at its end) minus the same at the end of
    the slice before, so the slices add up to the total exactly, none is negative, and each is
    within one minor unit of its exact part.
    """
    running = running_shares(calendar, workdays)
    out: list[DaySlice] = []
    first, previous_share, previous_minor = 0, _ZERO, 0
    days = list(calendar.days())
    for i, day in enumerate(days):
        if i == 0 or key(day) != key(days[i - 1]):
            first = i
        if i + 1 < len(days) and key(days[i + 1]) == key(day):
            continue
        amount = running_minor(total_minor, running[i])
        out.append(DaySlice(days[first], day, running[i] - previous_share, amount - previous_minor))
        previous_share, previous_minor = running[i], amount
    return out
