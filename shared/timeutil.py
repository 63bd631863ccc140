"""Instants as the services store and send them: always timezone-aware, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current instant, timezone-aware."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """A stored instant in UTC (SQLite hands instants back naive; they were stored in UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def aware(value: datetime | None) -> datetime | None:
    """The instant with an offset: naive values are UTC, aware ones are kept as they are."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
