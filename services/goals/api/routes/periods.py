"""Org-wide periods."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from services.goals.api import schemas
from services.goals.api.deps import UowDep
from services.goals.handlers import periods
from shared.auth import AdminPrincipal, CurrentPrincipal
from shared.http import Cursor, Limit, Page
from shared.problems import problem_responses

router = APIRouter(prefix="/v1/periods", tags=["periods"])
R = problem_responses(401, 403, 404, 422)


@router.post("", status_code=201, response_model=schemas.PeriodRead, responses=R)
async def define_period(
    body: schemas.PeriodCreate, principal: AdminPrincipal, uow: UowDep, response: Response
) -> schemas.PeriodRead:
    """Define a period of whole days in a time zone, with optional monthly seasonality (admin)."""
    cmd = periods.DefinePeriod(
        name=body.name,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        timezone=body.timezone,
        seasonality=body.seasonality,
    )
    period = await periods.define_period(cmd, uow=uow, principal=principal)
    response.headers["Location"] = f"/v1/periods/{period.id}"
    return schemas.PeriodRead.of(period)


@router.get("", response_model=Page[schemas.PeriodRead], responses=R)
async def list_periods(
    principal: CurrentPrincipal, uow: UowDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[schemas.PeriodRead]:
    """List the org's periods by start date."""
    rows, nxt = await periods.list_periods(uow=uow, principal=principal, cursor=cursor, limit=limit)
    return Page[schemas.PeriodRead](items=[schemas.PeriodRead.of(r) for r in rows], next_cursor=nxt)


@router.get("/{period_id}", response_model=schemas.PeriodRead, responses=R)
async def get_period(
    period_id: uuid.UUID, principal: CurrentPrincipal, uow: UowDep
) -> schemas.PeriodRead:
    """Read a period."""
    return schemas.PeriodRead.of(await periods.get_period(period_id, uow=uow, principal=principal))
