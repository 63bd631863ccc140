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
    wanted = {
        "status": "lost",
        "amount_minor": _minor(event.amount or Decimal(0), currency),
        "currency": currency,
        "closed_at": closed_at,
        "competitor": event.competitor if event.competitor is not None else sale.competitor,
        "loss_reasons": list(event.reasons),
    }
    current = {
        "status": sale.status,
        "amount_minor": sale.amount_minor,
        "currency": sale.currency,
        "closed_at": sale.closed_at,
        "competitor": sale.competitor,
        "loss_reasons": list(sale.loss_reasons or ()),
    }
    changed = {name for name, value in wanted.items() if current[name] != value}
    member = None
    if sale.unassigned:
        member = await repo.member_for_owner(
            org_id=org_id, source=event.source, owner_ref=event.owner_ref, email=event.owner_email
        )
    if not changed and member is None:
        return  # a repeat: nothing new, and nobody new to credit
    before = await contributions(uow, sale)
    for name, value in wanted.items():
        setattr(sale, name, value)
    if event.currency is not None:
        sale.currency_assumed = False
    if member is not None:
        await _set_split(uow, sale, {member.id: Decimal(100)})
        await _refresh_team(uow, sale, member.team_id)
    elif changed & {"amount_minor", "currency"}:
        credits = await repo.credits(sale_id=sale.id)
        await _set_split(uow, sale, {c.member_id: Decimal(c.percent) for c in credits})
        if sale.team_id is not None:
            await _refresh_team(uow, sale, sale.team_id)
    sale.version += 1
    sale.updated_at = now
    await settle(uow, sale=sale, before=before, now=now, fact=SaleLost)
