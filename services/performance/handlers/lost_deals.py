"""Closed-lost CRM deals: kept as sales in the ``lost`` state, which never count.

A deal first heard of as lost is recorded lost; a won sale that is lost stops counting and
becomes lost (one ``sale_lost`` fact, the version bumped, as any other state change); a lost
deal won later is re-activated by the won path, and one reopened is reversed.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from services.performance.adapters.crm.base import DealEvent
from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from services.performance.handlers.attainment_ledger import sale_state, settle, team_ref
from services.performance.handlers.sales import assignee_of, closed_at_of, record_deal


async def apply_lost_deal(
    uow: PerformanceUnitOfWork, *, org_id: uuid.UUID, event: DealEvent, now: datetime
) -> None:
    """Record a closed-lost deal, or turn the deal's sale lost; a repeat changes nothing."""
    if event.kind != "lost":
        raise ValueError(f"not a lost deal: {event.kind}")
    row = await uow.repo.sale_by_external_id(
        org_id=org_id, source=event.source, external_id=event.external_id
    )
    if row is None:
        await record_deal(uow, org_id=org_id, event=event, now=now)
        return
    sale = await sale_state(uow, row)
    change = sale.mark_lost(
        amount=event.amount,
        currency=event.currency,
        closed_at=await closed_at_of(uow, org_id=org_id, event=event, sale=row, now=now),
        competitor=event.competitor,
        reasons=event.reasons,
        team=await team_ref(uow, org_id=org_id, team_id=sale.team_id),
        assignee=await assignee_of(uow, org_id=org_id, event=event) if sale.unassigned else None,
        at=now,
    )
    await settle(uow, change=change, row=row, now=now)
