"""Internal reads for the other services (service tokens only; not in the public OpenAPI)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from services.goals.api.deps import UowDep
from services.goals.handlers.evidence import target_evidence
from shared.internal import PREFIX, InternalCaller

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/targets/{target_id}/evidence")
async def get_target_evidence(
    target_id: uuid.UUID, caller: InternalCaller, uow: UowDep
) -> dict[str, Any]:
    """A target's derivation, ledger rows and rebalance snapshots, for a dispute's evidence."""
    return {"items": await target_evidence(target_id, uow=uow, org=caller.org)}
