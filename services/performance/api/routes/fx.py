"""Exchange rates of a period: sales in another currency count at them, rounded once."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query

from services.performance.api.deps import NowDep, UowDep
from services.performance.api.fx_schemas import (
    FxRateChangeRead,
    FxRatesPut,
    FxRatesRead,
    FxRatesSet,
    FxRateTableRead,
)
from services.performance.handlers.fx import (
    SetFxRates,
    get_fx_rates,
    list_fx_changes,
    set_fx_rates,
)
from shared.auth import AdminPrincipal, CurrentPrincipal
from shared.problems import problem_responses

router = APIRouter(prefix="/v1/periods/{period_id}/fx-rates", tags=["currencies"])


@router.put("", response_model=FxRatesSet, responses=problem_responses(401, 403, 404, 422))
async def put_fx_rates(
    period_id: uuid.UUID, body: FxRatesPut, principal: AdminPrincipal, uow: UowDep, now: NowDep
) -> FxRatesSet:
    """Set a period's rates into a team currency; its sales in changed currencies are re-valued."""
    result = await set_fx_rates(
        SetFxRates(period_id=period_id, rates=body.rates, into=body.into),
        uow=uow,
        principal=principal,
        now=now,
    )
    return FxRatesSet.of_result(result)


@router.get("", response_model=FxRatesRead, responses=problem_responses(401, 404))
async def read_fx_rates(
    period_id: uuid.UUID, principal: CurrentPrincipal, uow: UowDep
) -> FxRatesRead:
    """Read a period's rate tables, one per currency converted into."""
    tables = await get_fx_rates(period_id=period_id, uow=uow, principal=principal)
    return FxRatesRead(period_id=period_id, tables=[FxRateTableRead.of(t) for t in tables])


@router.get(
    "/changes",
    response_model=list[FxRateChangeRead],
    responses=problem_responses(401, 403, 404, 422),
)
async def list_fx_rate_changes(
    period_id: uuid.UUID,
    principal: AdminPrincipal,
    uow: UowDep,
    limit: int = Query(50, ge=1, le=200),
) -> list[FxRateChangeRead]:
    """List a period's rate changes, newest first: who, when, old and new rate, sales re-valued."""
    changes = await list_fx_changes(period_id=period_id, uow=uow, principal=principal, limit=limit)
    return [FxRateChangeRead.of(change, revalued) for change, revalued in changes]
