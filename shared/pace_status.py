"""Pace statuses: a projection against its target, judged by a team's thresholds.

Performance judges each rep with these rules and goals judges every node of a team roll-up
with the same ones, each by its own team's thresholds. Pure functions of plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction
from functools import lru_cache

from shared.domain_errors import InvalidInput


class PaceStatus(StrEnum):
    """How a rep's projection compares with their target."""

    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    STRUGGLING = "struggling"
    # A zero target and nothing sold: there is nothing to be on track for.
    NO_TARGET = "no_target"


_SEVERITY = {PaceStatus.ON_TRACK: 0, PaceStatus.AT_RISK: 1, PaceStatus.STRUGGLING: 2}


def exact_decimal(value: object, name: str) -> Decimal:
    """A finite decimal from a Decimal, int or str; floats are refused."""
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
class Thresholds:
    """A team's pace thresholds, as ratios of projection to target."""

    at_risk_below: Decimal = Decimal("0.9")
    struggling_below: Decimal = Decimal("0.7")
    hysteresis: Decimal = Decimal("0.05")
    min_elapsed_share: Decimal = Decimal("0.1")

    def __post_init__(self) -> None:
        for name in ("at_risk_below", "struggling_below", "hysteresis", "min_elapsed_share"):
            object.__setattr__(self, name, exact_decimal(getattr(self, name), name))
        if not Decimal(0) <= self.struggling_below <= self.at_risk_below:
            raise InvalidInput("need 0 <= struggling_below <= at_risk_below")
        if self.hysteresis < 0:
            raise InvalidInput("hysteresis must not be negative", field="hysteresis")
        if not Decimal(0) <= self.min_elapsed_share <= Decimal(1):
            raise InvalidInput("min_elapsed_share must be within [0, 1]", field="min_elapsed_share")


DEFAULT_THRESHOLDS = Thresholds()


def classify(
    *,
    ratio: Fraction,
    share: Fraction,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    previous_status: PaceStatus | None = None,
    away: bool = False,
) -> PaceStatus:
    """Return the status for a projection/target ratio, with hysteresis and an early grace."""
    entering = status_for(ratio, thresholds.struggling_below, thresholds.at_risk_below)
    if previous_status is None:
        status = entering
    else:
        # Recovery needs the threshold plus hysteresis, so a rep hovering at a threshold
        # does not flap between statuses (and trigger a rebalance) on every evaluation.
        recovering = status_for(
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


def status_for(ratio: Fraction, struggling_below: Decimal, at_risk_below: Decimal) -> PaceStatus:
    """The status a ratio of projection to target enters at (no hysteresis, no grace)."""
    if ratio < _exact(struggling_below):
        return PaceStatus.STRUGGLING
    if ratio < _exact(at_risk_below):
        return PaceStatus.AT_RISK
    return PaceStatus.ON_TRACK


def _worse(a: PaceStatus, b: PaceStatus) -> PaceStatus:
    return a if _SEVERITY[a] >= _SEVERITY[b] else b


def _better(a: PaceStatus, b: PaceStatus) -> PaceStatus:
    return a if _SEVERITY[a] <= _SEVERITY[b] else b


@lru_cache(maxsize=256)
def _exact(threshold: Decimal) -> Fraction:
    # A team's few thresholds, converted once rather than for every member of every page.
    return Fraction(threshold)
