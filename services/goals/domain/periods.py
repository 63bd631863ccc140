"""Pure period rules: bounds as instants in the period's time zone, and seasonality weights."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.domain_errors import InvalidInput


def zone(name: str) -> ZoneInfo:
    """The IANA zone of that name, or InvalidInput."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {name!r}", field="timezone") from None


def bounds(*, starts_on: date, ends_on: date, timezone: str) -> tuple[datetime, datetime]:
    """Start of the first day and start of the day after the last day, as UTC instants."""
    if ends_on < starts_on:
        raise InvalidInput("ends_on must not be before starts_on", field="ends_on")
    tz = zone(timezone)
    starts_at = datetime.combine(starts_on, time(0), tzinfo=tz)
    ends_at = datetime.combine(ends_on + timedelta(days=1), time(0), tzinfo=tz)
    return starts_at.astimezone(UTC), ends_at.astimezone(UTC)


def months_covered(starts_on: date, ends_on: date) -> set[int]:
    """Calendar month numbers (1-12) the period touches."""
    months: set[int] = set()
    year, month = starts_on.year, starts_on.month
    while (year, month) <= (ends_on.year, ends_on.month) and len(months) < 12:
        months.add(month)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def check_seasonality(
    weights: Mapping[int, Decimal], *, starts_on: date, ends_on: date
) -> dict[int, Decimal]:
    """Weights per month of the period: non-negative, only months it covers, summing to exactly 1."""
    covered = months_covered(starts_on, ends_on)
    outside = sorted(m for m in weights if m not in covered)
    if outside:
        raise InvalidInput(
            f"seasonality names months outside the period: {outside}",
            field="seasonality",
            months_in_period=sorted(covered),
        )
    if any(w < 0 for w in weights.values()):
        raise InvalidInput("seasonality weights must not be negative", field="seasonality")
    total = sum(weights.values(), Decimal(0))
    if total != 1:
        raise InvalidInput(
            f"seasonality weights must sum to exactly 1, not {total}", field="seasonality"
        )
    return dict(sorted(weights.items()))
