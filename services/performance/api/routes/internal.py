"""Internal reads for the other services (service tokens only; not in the public OpenAPI)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from services.performance.api.deps import UowDep
from services.performance.handlers.evidence import sale_evidence
from shared.internal import PREFIX, InternalCaller

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/sales/{sale_id}/evidence")
async def get_sale_evidence(
    sale_id: uuid.UUID, caller: InternalCaller, uow: UowDep
) -> dict[str, Any]:
    """A sale, its credits and its raw signature-checked CRM deliveries, for a dispute."""
    return {"items": await sale_evidence(sale_id, uow=uow, org=caller.org)}
