"""Sales: manual entry, listing, assignment of unassigned CRM sales."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query

from services.performance.api.deps import NowDep, UowDep
from services.performance.api.schemas import SaleAssignment, SaleCreate, SaleRead
from services.performance.handlers.sales import (
    AssignSale,
    CreateSale,
    ListSales,
    assign_sale,
    create_sale,
    get_sale,
    list_sales,
)
from shared.auth import CurrentPrincipal, ManagerPrincipal
from shared.http import Cursor, Page, page_of
from shared.problems import problem_responses

router = APIRouter(prefix="/v1/sales", tags=["sales"])


@router.post(
    "",
    status_code=201,
    response_model=SaleRead,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_sale_entry(
    body: SaleCreate, principal: ManagerPrincipal, uow: UowDep, now: NowDep
) -> SaleRead:
    """Record a sale by hand, credited to one member or split between several."""
    view = await create_sale(
        CreateSale(
            credits=body.split(),
            amount=body.amount,
            currency=body.currency,
            closed_at=body.closed_at,
            external_id=body.external_id,
        ),
        uow=uow,
        principal=principal,
        now=now,
    )
    return SaleRead.of(view.sale, view.credits, view.valuations)


@router.get("", response_model=Page[SaleRead], responses=problem_responses(401, 404, 422))
async def list_sales_entries(
    principal: CurrentPrincipal,
    uow: UowDep,
    member_id: uuid.UUID | None = None,
    period_id: uuid.UUID | None = None,
    unassigned: bool | None = None,
    limit: int = Query(50, ge=1, le=500),
    cursor: Cursor = None,
) -> Page[SaleRead]:
    """List sales by close time; reps see their own, managers their teams' and unassigned ones."""
    views, rows = await list_sales(
        ListSales(
            member_id=member_id,
            period_id=period_id,
            unassigned=unassigned,
            cursor=cursor,
            limit=limit,
        ),
        uow=uow,
        principal=principal,
    )
    _, next_cursor = page_of(rows, limit, lambda s: (s.closed_at.isoformat(), s.id))
    return Page[SaleRead](
        items=[SaleRead.of(v.sale, v.credits, v.valuations) for v in views], next_cursor=next_cursor
    )


@router.get("/{sale_id}", response_model=SaleRead, responses=problem_responses(401, 404))
async def get_sale_entry(sale_id: uuid.UUID, principal: CurrentPrincipal, uow: UowDep) -> SaleRead:
    """Read one sale with its credit."""
    view = await get_sale(sale_id=sale_id, uow=uow, principal=principal)
    return SaleRead.of(view.sale, view.credits, view.valuations)


@router.post(
    "/{sale_id}/assignment",
    response_model=SaleRead,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def assign_sale_credit(
    sale_id: uuid.UUID, body: SaleAssignment, principal: ManagerPrincipal, uow: UowDep, now: NowDep
) -> SaleRead:
    """Give a sale's credit to members (how a manager places an unassigned CRM sale)."""
    view = await assign_sale(
        AssignSale(sale_id=sale_id, credits=body.split()), uow=uow, principal=principal, now=now
    )
    return SaleRead.of(view.sale, view.credits, view.valuations)
