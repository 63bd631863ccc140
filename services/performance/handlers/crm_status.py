"""A CRM connection's health, per source, for the admin who set it up."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from services.performance.adapters.crm.registry import SOURCES
from services.performance.adapters.orm import WebhookRefusal
from services.performance.adapters.unit_of_work import PerformanceUnitOfWork

WINDOW = timedelta(hours=24)
OUTCOMES = ("received", "fetching", "processed", "malformed", "failed")


@dataclass(frozen=True)
class LastDelivery:
    """The newest verified delivery of a source."""

    delivery_id: uuid.UUID
    received_at: datetime
    outcome: str


@dataclass(frozen=True)
class LastError:
    """The newest thing that went wrong: a failed or malformed delivery, or a refusal."""

    at: datetime
    kind: str  # failed | malformed | rejected | no_secret
    message: str
    delivery_id: uuid.UUID | None


@dataclass(frozen=True)
class SourceHealth:
    """One source's connection: its secret, its last delivery, its last day, its last error."""

    source: str
    secret_set: bool
    secret_since: datetime | None
    last_delivery: LastDelivery | None
    counts: dict[str, int]
    last_error: LastError | None


async def crm_status(
    *, uow: PerformanceUnitOfWork, org_id: uuid.UUID, now: datetime
) -> list[SourceHealth]:
    """Each source's health over the last 24 hours (refusals by the hour they fell in)."""
    since = now - WINDOW
    async with uow:
        secrets = await uow.health.secrets_since(org_id=org_id, now=now)
        counts = await uow.health.outcome_counts(org_id=org_id, sources=SOURCES, since=since)
        latest = await uow.health.latest(org_id=org_id, sources=SOURCES)
        refusals = await uow.health.refusals(org_id=org_id)  # bounded: hours of the retention
    hour = since.replace(minute=0, second=0, microsecond=0)
    result = []
    for source in SOURCES:
        mine = [r for r in refusals if r.source == source]
        tally = {outcome: counts.get((source, outcome), 0) for outcome in OUTCOMES}
        tally["refused"] = sum(r.refused for r in mine if r.hour >= hour)
        last = latest.get((source, "last"))
        result.append(
            SourceHealth(
                source=source,
                secret_set=source in secrets,
                secret_since=secrets.get(source),
                last_delivery=(
                    LastDelivery(last.id, last.received_at, last.outcome) if last else None
                ),
                counts=tally,
                last_error=_last_error(latest.get((source, "error")), mine),
            )
        )
    return result


def _last_error(failed: sa.Row[Any] | None, refusals: list[WebhookRefusal]) -> LastError | None:
    """The newer of the last failed delivery and the last refusal."""
    candidates = [LastError(r.last_at, r.last_reason, r.last_error, None) for r in refusals]
    if failed is not None:
        at = failed.processed_at or failed.received_at
        candidates.append(LastError(at, failed.outcome, failed.error or "", failed.id))
    return max(candidates, key=lambda e: e.at, default=None)
