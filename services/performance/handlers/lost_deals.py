"""Closed-lost CRM deals: kept as sales in the ``lost`` state, which never count.

A deal first heard of as lost is recorded lost; a won sale that is lost stops counting and
becomes lost (one ``sale_lost`` fact, the version bumped, as any other state change); a lost
deal won later is re-activated by the won path, and one reopened is reversed.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from services.performance.adapters.crm.base import DealEvent, close_instant
from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from services.performance.handlers.sales import (
    _minor,
    _record_deal,
    _refresh_team,
    _set_split,
    contributions,
    settle,
)
from shared.events.performance import SaleLost
from shared.timeutil import as_utc


async def apply_lost_deal(
    uow: PerformanceUnitOfWork, *, org_id: uuid.UUID, event: DealEvent, now: datetime
) -> None:
    """Record a closed-lost deal, or turn the deal's sale lost; a repeat changes nothing."""
    if event.kind != "lost":
        raise ValueError(f"not a lost deal: {event.kind}")
    repo = uow.repo
    sale = await repo.sale_by_external_id(
        org_id=org_id, source=event.source, external_id=event.external_id
    )
    timezone = "UTC"
    if event.closed_at is None and event.closed_on is not None:
        timezone = await repo.timezone_for_day(org_id=org_id, day=event.closed_on)
    closed_at = close_instant(event, timezone) or (sale.closed_at if sale else now)
    if sale is None:
        await _record_deal(uow, org_id=org_id, event=event, closed_at=closed_at, now=now)
        return
    currency = event.currency or sale.currency
    values = (
        "lost",
        _minor(event.amount or Decimal(0), currency),
        currency,
        as_utc(closed_at),
        event.competitor if event.competitor is not None else sale.competitor,
        list(event.reasons),
    )
    current = (
        sale.status,
        sale.amount_minor,
        sale.currency,
        as_utc(sale.closed_at),
        sale.competitor,
        list(sale.loss_reasons or ()),
    )
    if values == current and not sale.unassigned:
        return
    before = await contributions(uow, sale)
    amount_changed = values[1:3] != current[1:3]
    (sale.status, sale.amount_minor, sale.currency, sale.closed_at) = values[:4]
    sale.competitor, sale.loss_reasons = values[4], values[5]
    if event.currency is not None:
        sale.currency_assumed = False
    if sale.unassigned:
        member = await repo.member_for_owner(
            org_id=org_id, source=event.source, owner_ref=event.owner_ref, email=event.owner_email
        )
        if member is not None:
            await _set_split(uow, sale, {member.id: Decimal(100)})
            await _refresh_team(uow, sale, member.team_id)
        elif values == current:
            return  # still nobody to credit and nothing new
    elif amount_changed:
        credits = await repo.credits(sale_id=sale.id)
        await _set_split(uow, sale, {c.member_id: Decimal(c.percent) for c in credits})
        if sale.team_id is not None:
            await _refresh_team(uow, sale, sale.team_id)
    sale.version += 1
    sale.updated_at = now
    await settle(uow, sale=sale, before=before, now=now, fact=SaleLost)
