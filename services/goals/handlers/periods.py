"""Period use cases: org-wide periods of whole days in a time zone."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from services.goals.adapters.orm import Period
from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from services.goals.domain.periods import bounds, check_seasonality
from shared.auth import Principal
from shared.events.goals import PeriodDefined


@dataclass(frozen=True, kw_only=True)
class DefinePeriod:
    """Define an org-wide period, optionally weighted by calendar month."""

    name: str
    starts_on: date
    ends_on: date
    timezone: str
    seasonality: dict[int, Decimal] | None = None


def seasonality_of(period: Period) -> dict[int, Decimal] | None:
    """A period's monthly weights as numbers (stored as strings)."""
    if period.seasonality is None:
        return None
    return {int(k): Decimal(v) for k, v in period.seasonality.items()}


def period_fact(period: Period) -> PeriodDefined:
    """The PeriodDefined fact of a period."""
    return PeriodDefined(
        org_id=period.org_id,
        period_id=period.id,
        name=period.name,
        starts_on=period.starts_on,
        ends_on=period.ends_on,
        timezone=period.timezone,
        starts_at=period.starts_at,
        ends_at=period.ends_at,
        seasonality=seasonality_of(period),
    )


async def define_period(cmd: DefinePeriod, *, uow: GoalsUnitOfWork, principal: Principal) -> Period:
    """Define an org-wide period (admin)."""
    starts_at, ends_at = bounds(starts_on=cmd.starts_on, ends_on=cmd.ends_on, timezone=cmd.timezone)
    seasonality = None
    if cmd.seasonality is not None:
        weights = check_seasonality(cmd.seasonality, starts_on=cmd.starts_on, ends_on=cmd.ends_on)
        seasonality = {str(k): str(v) for k, v in weights.items()}
    async with uow:
        period = Period.model_validate(
            {
                "name": cmd.name,
                "starts_on": cmd.starts_on,
                "ends_on": cmd.ends_on,
                "timezone": cmd.timezone,
                "org_id": principal.org,
                "starts_at": starts_at,
                "ends_at": ends_at,
                "seasonality": seasonality,
            }
        )
        uow.repo.add(period)
        uow.emit(period_fact(period))
        await uow.commit()
    return period


async def get_period(period_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal) -> Period:
    """Read a period."""
    async with uow:
        return await uow.repo.get(Period, org_id=principal.org, id=period_id, what="period")


async def list_periods(
    *, uow: GoalsUnitOfWork, principal: Principal, cursor: str | None, limit: int
) -> tuple[list[Period], str | None]:
    """Periods of the org, by start date."""
    async with uow:
        return await uow.repo.periods(org_id=principal.org, cursor=cursor, limit=limit)
