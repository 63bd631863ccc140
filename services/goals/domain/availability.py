"""Pure availability maths: absences, relief, late-joiner proration and ramp schedules.

A period's target is spread over its days by the seasonality weights: each calendar month's weight
is shared evenly by that month's days in the period (without seasonality every day weighs the
same). A rep's *availability* is the weighted share of those days they work, times the ramp
factor of each day: the relief of an absence, the prorated target of a late joiner and the
capacity of a ramping rep are all this one sum, in exact fractions, rounded once by largest
remainder. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from services.goals.domain.allocation import check_minor, to_fraction
from services.goals.domain.rebalancing import (
    MemberPosition,
    RebalancePolicy,
    cap_room_minor,
    water_fill,
)
from shared.day_model import Calendar, DaySlice, Workdays, day_weights, ramp_step, slices
from shared.domain_errors import Conflict, InvalidInput
from shared.money import split_exact

_ONE_DAY = timedelta(days=1)
ABSENCE_KINDS = frozenset({"pto", "leave", "training", "other"})
ABSORB_MODES = frozenset({"nobody", "team", "pool"})
FUND_SOURCES = frozenset({"team_total", "others", "pool"})
#: Longest ramp schedule accepted: four years of months is far beyond any real ramp.
MAX_RAMP_STEPS = 48


@dataclass(frozen=True)
class PeriodDays:
    """A period as whole local days with optional monthly weights (summing to 1)."""

    starts_on: date
    ends_on: date
    seasonality: Mapping[int, Decimal] | None = None

    def __post_init__(self) -> None:
        if self.ends_on < self.starts_on:
            raise InvalidInput("ends_on must not be before starts_on", field="ends_on")

    def days(self) -> Iterable[date]:
        """Every day of the period, in order."""
        day = self.starts_on
        while day <= self.ends_on:
            yield day
            day += _ONE_DAY

    def calendar(self) -> Calendar:
        """The shared day model of this period (the one pace uses too)."""
        weights = {
            m: to_fraction(Decimal(w), "seasonality") for m, w in (self.seasonality or {}).items()
        }
        return Calendar.of(self.starts_on, self.ends_on, weights)

    def day_weights(self) -> dict[date, Fraction]:
        """Each day's exact weight; the weights add up to 1."""
        calendar = self.calendar()
        return dict(zip(calendar.days(), day_weights(calendar), strict=True))


@dataclass(frozen=True)
class Ramp:
    """A rep's ramp: factors per month since starts_on (the last one holds), or one scalar."""

    starts_on: date | None = None
    schedule: tuple[Fraction, ...] = ()
    scalar: Fraction = Fraction(1)

    def factor(self, day: date) -> Fraction:
        """The ramp factor on a day: 0 before starts_on, the schedule's step, else the scalar."""
        if self.starts_on is not None and day < self.starts_on:
            return Fraction(0)
        if not self.schedule:
            return self.scalar
        return ramp_step(day, self.starts_on, self.schedule)


def check_ramp_schedule(values: Sequence[object] | None) -> tuple[Fraction, ...]:
    """Validate ramp factors (each within 0..1, at most MAX_RAMP_STEPS); return them exact."""
    if values is None:
        return ()
    if len(values) > MAX_RAMP_STEPS:
        raise InvalidInput(
            f"ramp_schedule has at most {MAX_RAMP_STEPS} steps", field="ramp_schedule"
        )
    steps = []
    for i, value in enumerate(values):
        step = to_fraction(value, f"ramp_schedule[{i}]")
        if not 0 <= step <= 1:
            raise InvalidInput(f"ramp_schedule[{i}] must be between 0 and 1", field="ramp_schedule")
        steps.append(step)
    return tuple(steps)


def working_days(starts_on: date, ends_on: date) -> int:
    """Monday-to-Friday days in [starts_on, ends_on], both inclusive."""
    if ends_on < starts_on:
        return 0
    total = (ends_on - starts_on).days + 1
    weeks, rest = divmod(total, 7)
    count = weeks * 5
    first = starts_on.weekday()
    count += sum(1 for i in range(rest) if (first + i) % 7 < 5)
    return count


def clip(starts_on: date, ends_on: date, period: PeriodDays) -> tuple[date, date] | None:
    """The part of [starts_on, ends_on] inside the period, or None."""
    start, end = max(starts_on, period.starts_on), min(ends_on, period.ends_on)
    return (start, end) if start <= end else None


def _absent_days(absences: Iterable[tuple[date, date]]) -> set[date]:
    days: set[date] = set()
    for start, end in absences:
        day = start
        while day <= end:
            days.add(day)
            day += _ONE_DAY
    return days


def availability(
    period: PeriodDays, *, ramp: Ramp | None = None, absences: Iterable[tuple[date, date]] = ()
) -> Fraction:
    """Weighted share of the period a rep works, times each day's ramp factor (0..1)."""
    ramp = ramp or Ramp()
    away = _absent_days(absences)
    return sum(
        (w * ramp.factor(d) for d, w in period.day_weights().items() if d not in away),
        Fraction(0),
    )


def absent_share(period: PeriodDays, starts_on: date, ends_on: date) -> Fraction:
    """Seasonality-weighted share of the period an absence covers (0 when outside it)."""
    inside = clip(starts_on, ends_on, period)
    if inside is None:
        return Fraction(0)
    weights = period.day_weights()
    return sum((weights[d] for d in _absent_days([inside])), Fraction(0))


def portion_minor(total_minor: int, share: Fraction) -> int:
    """total x share, rounded by largest remainder (the part and the rest add up to total)."""
    check_minor("total_minor", total_minor)
    share = Fraction(share)
    if not 0 <= share <= 1:
        raise InvalidInput("share must be within 0..1", field="share")
    # A two-way split is largest remainder on the pair (part, rest): exact; "part" wins a tie (half up).
    parts = split_exact(
        total_minor, {"part": share.numerator, "rest": share.denominator - share.numerator}
    )
    return parts["part"]


def scaled_minor(total_minor: int, factor: Fraction) -> int:
    """total x factor for any non-negative factor, with the tie rule of portion_minor (up)."""
    check_minor("total_minor", total_minor)
    factor = Fraction(factor)
    if factor < 0:
        raise InvalidInput("factor must not be negative", field="factor")
    whole, rest = divmod(total_minor * factor.numerator, factor.denominator)
    return whole + (1 if rest and 2 * rest >= factor.denominator else 0)


def relief_minor(
    *, target_minor: int, period: PeriodDays, starts_on: date, ends_on: date, min_days: int
) -> int:
    """The target an absence relieves: target x absent share, if it lasts min_days working days."""
    inside = clip(starts_on, ends_on, period)
    if inside is None or working_days(*inside) < min_days:
        return 0
    return portion_minor(target_minor, absent_share(period, starts_on, ends_on))


def prorated_minor(*, full_minor: int, period: PeriodDays, ramp: Ramp) -> int:
    """A late joiner's target: the full-period amount times their ramped availability."""
    return portion_minor(full_minor, min(availability(period, ramp=ramp), Fraction(1)))


@dataclass(frozen=True)
class ReliefPlan:
    """Where a relieved amount goes: other reps, the plan's unassigned line, or off the total."""

    member_id: object
    relief_minor: int
    # Only the members whose target changes (the relieved rep included).
    new_targets: dict[object, int]
    absorbed: dict[object, int]
    pooled_minor: int
    total_delta_minor: int


def plan_relief(
    *,
    member_id: object,
    relief: int,
    team: Sequence[MemberPosition],
    policy: RebalancePolicy,
    absorb: str,
    absent: Collection[object] = frozenset(),
) -> ReliefPlan:
    """Relieve one rep of an amount; absorb it by nobody (total drops), the team, or the pool.

    With ``team``, nobody absent on a day of the relieved window (``absent``) and nobody
    struggling takes a share: relief must not land on someone who cannot carry it either.
    """
    if absorb not in ABSORB_MODES:
        raise InvalidInput(f"absorb must be one of {', '.join(sorted(ABSORB_MODES))}")
    index = {p.member_id: p for p in team}
    rep = index[member_id]
    relief = min(check_minor("relief", relief), rep.target_minor)
    if not relief:
        return ReliefPlan(member_id, 0, {}, {}, 0, 0)
    new_targets = {member_id: rep.target_minor - relief}
    absorbed: dict[object, int] = {}
    pooled = total_delta = 0
    if absorb == "nobody":
        total_delta = -relief
    elif absorb == "pool":
        pooled = relief
    else:
        others = [
            p
            for p in team
            if p.member_id != member_id and p.member_id not in absent and p.status != "struggling"
        ]
        # In proportion to what each carries, never above the rebalance cap: what the caps
        # cannot take waits on the unassigned line, so the team total stays exact.
        absorbed = water_fill(
            relief,
            {p.member_id: p.target_minor for p in others},
            {p.member_id: cap_room_minor(p, policy) for p in others},
        )
        absorbed = {k: v for k, v in absorbed.items() if v}
        for k, amount in absorbed.items():
            new_targets[k] = index[k].target_minor + amount
        pooled = relief - sum(absorbed.values())
    return ReliefPlan(member_id, relief, new_targets, absorbed, pooled, total_delta)


def take_from_others(
    *, amount_minor: int, team: Sequence[MemberPosition], exclude: object
) -> dict[object, int]:
    """Take an amount from the others in proportion to their targets, within their floors."""
    others = [p for p in team if p.member_id != exclude]
    rooms = {p.member_id: max(p.target_minor - p.floor_minor, 0) for p in others}
    room = sum(rooms.values())
    if room < amount_minor:
        raise Conflict(
            f"the other members can give up at most {room} without dropping below what they "
            f"sold; {amount_minor} is needed",
            available_minor=room,
            requested_minor=amount_minor,
        )
    taken = water_fill(amount_minor, {p.member_id: p.target_minor for p in others}, rooms)
    return {k: v for k, v in taken.items() if v}


def schedule(
    *,
    target_minor: int,
    period: PeriodDays,
    grain: str,
    ramp: Ramp | None = None,
    absences: Iterable[tuple[date, date]] = (),
) -> list[DaySlice]:
    """Cut a target into month or ISO-week slices by the shared day model; they add up exactly.

    The scalar ramp is left out: a constant factor on every day does not move the slices.
    """
    if grain not in ("month", "week"):
        raise InvalidInput("grain must be month or week", field="grain")
    ramp = ramp or Ramp()
    workdays = Workdays(
        absences=tuple(sorted(absences)), starts_on=ramp.starts_on, ramp_schedule=ramp.schedule
    )
    key = _month_key if grain == "month" else _week_key
    return slices(check_minor("target_minor", target_minor), period.calendar(), workdays, key)


def _month_key(day: date) -> tuple[int, int]:
    return day.year, day.month


def _week_key(day: date) -> tuple[int, int]:
    year, week, _ = day.isocalendar()
    return year, week
