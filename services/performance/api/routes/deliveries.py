"""The webhook delivery log: what each stored delivery did, and a retry of a failed one."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Query

from services.performance.adapters.crm.registry import Source
from services.performance.api.delivery_schemas import WebhookDeliveryRead
from services.performance.api.deps import RuntimeDep, UowDep
from services.performance.handlers.deliveries import (
    get_delivery,
    list_deliveries,
    reprocess_delivery,
)
from shared.auth import AdminPrincipal
from shared.http import Cursor, Page, page_of
from shared.problems import problem_responses

router = APIRouter(prefix="/v1/webhook-deliveries", tags=["webhooks"])
Outcome = Literal["received", "fetching", "processed", "malformed", "failed"]


@router.get(
    "", response_model=Page[WebhookDeliveryRead], responses=problem_responses(401, 403, 422)
)
async def list_webhook_deliveries(
    principal: AdminPrincipal,
    uow: UowDep,
    source: Source | None = None,
    outcome: Outcome | None = None,
    limit: int = Query(50, ge=1, le=200),
    cursor: Cursor = None,
) -> Page[WebhookDeliveryRead]:
    """List stored deliveries in arrival order, optionally of one source or outcome."""
    rows = await list_deliveries(
        uow=uow, org_id=principal.org, source=source, outcome=outcome, cursor=cursor, limit=limit
    )
    items, next_cursor = page_of(rows, limit, lambda d: (d.arrival, d.id))
    return Page[WebhookDeliveryRead](
        items=[WebhookDeliveryRead.model_validate(d) for d in items], next_cursor=next_cursor
    )


@router.get(
    "/{delivery_id}", response_model=WebhookDeliveryRead, responses=problem_responses(401, 403, 404)
)
async def get_webhook_delivery(
    delivery_id: uuid.UUID, principal: AdminPrincipal, uow: UowDep
) -> WebhookDeliveryRead:
    """Read one stored delivery: outcome, changes applied, duplicates, error."""
    row = await get_delivery(uow=uow, org_id=principal.org, delivery_id=delivery_id)
    return WebhookDeliveryRead.model_validate(row)


@router.post(
    "/{delivery_id}/reprocess",
    status_code=202,
    response_model=WebhookDeliveryRead,
    responses=problem_responses(401, 403, 404, 409),
)
async def reprocess_webhook_delivery(
    delivery_id: uuid.UUID, principal: AdminPrincipal, uow: UowDep, runtime: RuntimeDep
) -> WebhookDeliveryRead:
    """Queue a failed delivery again; changes it applied before stay applied once."""
    row = await reprocess_delivery(uow=uow, org_id=principal.org, delivery_id=delivery_id)
    runtime.processor.wake()
    return WebhookDeliveryRead.model_validate(row)
