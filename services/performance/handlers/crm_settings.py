"""An org's CRM settings: the HubSpot stage ids that mean won or lost, for portals that need them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from services.performance.adapters.crm.hubspot import StageMap
from services.performance.adapters.orm import CrmSettings
from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from shared.domain_errors import InvalidInput

HUBSPOT = "hubspot"


@dataclass(frozen=True)
class HubSpotStages:
    """Stage ids overriding HubSpot's won/lost flags; None leaves that side to the flags."""

    won_stages: list[str] | None = None
    lost_stages: list[str] | None = None


def _stage_ids(values: list[str] | None, field: str) -> list[str] | None:
    if values is None:
        return None
    cleaned = [v.strip() for v in values]
    if any(not v for v in cleaned):
        raise InvalidInput("stage ids must not be empty", field=field)
    return list(dict.fromkeys(cleaned))


async def put_hubspot_stages(
    cmd: HubSpotStages, *, uow: PerformanceUnitOfWork, org_id: uuid.UUID, now: datetime
) -> CrmSettings:
    """Replace the org's HubSpot stage map (admin); a stage cannot be both won and lost."""
    won = _stage_ids(cmd.won_stages, "won_stages")
    lost = _stage_ids(cmd.lost_stages, "lost_stages")
    both = sorted(set(won or ()) & set(lost or ()))
    if both:
        raise InvalidInput("a stage cannot mean both won and lost", field="lost_stages", both=both)
    async with uow:
        row = await uow.repo.crm_settings(org_id=org_id, source=HUBSPOT)
        if row is None:
            row = CrmSettings(org_id=org_id, source=HUBSPOT, updated_at=now)
        row.won_stages, row.lost_stages, row.updated_at = won, lost, now
        uow.repo.add(row)
        await uow.commit()
    return row


async def get_hubspot_stages(
    *, uow: PerformanceUnitOfWork, org_id: uuid.UUID
) -> CrmSettings | None:
    """The org's HubSpot stage map, if it set one."""
    async with uow:
        return await uow.repo.crm_settings(org_id=org_id, source=HUBSPOT)


async def stage_maps(
    uow: PerformanceUnitOfWork, org_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, StageMap | None]:
    """The HubSpot stage maps of these orgs, for the delivery processor (None: flags only)."""
    maps: dict[uuid.UUID, StageMap | None] = {}
    for org_id in org_ids:
        row = await uow.repo.crm_settings(org_id=org_id, source=HUBSPOT)
        maps[org_id] = (
            StageMap(won=frozenset(row.won_stages or ()), lost=frozenset(row.lost_stages or ()))
            if row is not None
            else None
        )
    return maps
