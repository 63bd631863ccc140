"""An org's CRM settings: HubSpot stage ids that mean won or lost (admin)."""

from __future__ import annotations

from fastapi import APIRouter

from services.performance.api.deps import NowDep, UowDep
from services.performance.api.schemas import HubSpotStagesIn, HubSpotStagesRead
from services.performance.handlers.crm_settings import (
    HubSpotStages,
    get_hubspot_stages,
    put_hubspot_stages,
)
from shared.auth import AdminPrincipal
from shared.problems import problem_responses

router = APIRouter(prefix="/v1/crm-settings", tags=["webhooks"])


@router.put(
    "/hubspot", response_model=HubSpotStagesRead, responses=problem_responses(401, 403, 422)
)
async def put_hubspot_settings(
    body: HubSpotStagesIn, principal: AdminPrincipal, uow: UowDep, now: NowDep
) -> HubSpotStagesRead:
    """Set the HubSpot stage ids that mean won or lost, overriding HubSpot's own flags."""
    row = await put_hubspot_stages(
        HubSpotStages(won_stages=body.won_stages, lost_stages=body.lost_stages),
        uow=uow,
        org_id=principal.org,
        now=now,
    )
    return HubSpotStagesRead.of(row)


@router.get("/hubspot", response_model=HubSpotStagesRead, responses=problem_responses(401, 403))
async def get_hubspot_settings(principal: AdminPrincipal, uow: UowDep) -> HubSpotStagesRead:
    """The org's HubSpot stage map (empty: won and lost come from HubSpot's flags alone)."""
    return HubSpotStagesRead.of(await get_hubspot_stages(uow=uow, org_id=principal.org))
