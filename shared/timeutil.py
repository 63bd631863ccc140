"""Instants as the services store and send them: always timezone-aware, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator


def utcnow() -> datetime:
    """The current instant, timezone-aware."""
    return datetime.now(UTC)


def _in_utc(value: datetime) -> datetime:
    # Clients have always been told a naive instant means UTC; the services carry only UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcInstant = Annotated[datetime, AfterValidator(_in_utc)]
"""An instant received on the API, in UTC from the edge on (a naive one is read as UTC)."""
