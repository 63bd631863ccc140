"""Sales use cases: CRM deal changes one by one, manual entry, assignment, credit moves, views.

Each asks the sale aggregate (``domain.sale``) for the change and hands it to
``attainment_ledger.settle``; batches of CRM changes mostly go set-based (``deal_batch``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from services.performance.adapters.crm.base import DealEvent, close_instant
from services.performance.adapters.orm import Member, Sale, SaleCredit, SaleValuation
from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from services.performance.domain.deal_changes import apply_deal, record_deal
from services.performance.domain.sale import Assignee, SaleState
from services.performance.domain.sales import validate_split
from services.performance.handlers.access import oversees
from services.performance.handlers.attainment_ledger import sale_state, settle, team_ref
from shared.auth import Principal
from shared.domain_errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.money import to_minor


@dataclass(frozen=True)
class SaleView:
    """A sale with its credits, as handlers return it."""

    sale: Sale
    credits: list[SaleCredit]
    valuations: list[SaleValuation] = field(default_factory=list)


@dataclass(frozen=True)
class CreateSale:
    """Record a sale by hand, credited to one member or split between several."""

    credits: list[tuple[uuid.UUID, Decimal]]
    amount: Decimal
    currency: str
    closed_at: datetime
    external_id: str | None = None


@dataclass(frozen=True)
class AssignSale:
    """Give a sale's credit to members (an unassigned CRM sale, or a correction)."""

    sale_id: uuid.UUID
    credits: list[tuple[uuid.UUID, Decimal]]


# -- CRM deal changes -------------------------------------------------------------------------


async def apply_deal_event(
    uow: PerformanceUnitOfWork, *, org_id: uuid.UUID, event: DealEvent, now: datetime
) -> None:
    """Upsert the sale of a CRM deal (won, changed, reversed or lost); a repeat changes nothing."""
    row = await uow.repo.sale_by_external_id(
        org_id=org_id, source=event.source, external_id=event.external_id
    )
    if row is None and event.kind == "reversed":
        return  # reversing a sale we never kept changes nothing
    closed_at = await _closed_at(uow, org_id=org_id, event=event, sale=row, now=now)
    if row is None:
        assignee = await _assignee(uow, org_id=org_id, event=event)
        change = record_deal(
            event, id=uuid.uuid4(), org_id=org_id, closed_at=closed_at, assignee=assignee, at=now
        )
        await settle(uow, change=change, row=None, now=now)
        return
    sale = await sale_state(uow, row)
    team = await team_ref(uow, org_id=org_id, team_id=sale.team_id)
    assignee = await _assignee(uow, org_id=org_id, event=event) if sale.unassigned else None
    change = apply_deal(sale, event, closed_at=closed_at, team=team, assignee=assignee, at=now)
    await settle(uow, change=change, row=row, now=now)


async def _closed_at(
    uow: PerformanceUnitOfWork,
    *,
    org_id: uuid.UUID,
    event: DealEvent,
    sale: Sale | None,
    now: datetime,
) -> datetime:
    """When the deal closed: a date-only close in the time zone of a period holding that day."""
    timezone = "UTC"
    if event.closed_at is None and event.closed_on is not None:
        timezone = await uow.repo.timezone_for_day(org_id=org_id, day=event.closed_on)
    return close_instant(event, timezone) or (sale.closed_at if sale else now)


async def _assignee(
    uow: PerformanceUnitOfWork, *, org_id: uuid.UUID, event: DealEvent
) -> Assignee | None:
    """The member the deal's CRM owner maps to, with their team."""
    member = await uow.repo.member_for_owner(
        org_id=org_id, source=event.source, owner_ref=event.owner_ref, email=event.owner_email
    )
    if member is None:
        return None
    team = await team_ref(uow, org_id=org_id, team_id=member.team_id)
    assert team is not None  # a member has a team
    return Assignee(member.id, team)


# -- manual entry, assignment, credit moves ---------------------------------------------------


async def _credited_members(
    uow: PerformanceUnitOfWork, principal: Principal, split: Mapping[uuid.UUID, Decimal]
) -> list[Member]:
    members = await uow.repo.members(org_id=principal.org, ids=split)
    missing = [str(m) for m in split if m not in members or not members[m].active]
    if missing:
        raise NotFound("no such active member", member_ids=missing)
    ordered = [members[m] for m in split]
    for member in ordered:
        if not await oversees(uow, principal, member.team_id):
            raise Forbidden(f"you do not manage the team of member {member.id}")
    return ordered


async def create_sale(
    cmd: CreateSale, *, uow: PerformanceUnitOfWork, principal: Principal, now: datetime
) -> SaleView:
    """Record a sale by hand (managers of the credited members' teams, or admins)."""
    split = validate_split(cmd.credits)
    if cmd.closed_at.tzinfo is None:
        raise InvalidInput("closed_at must carry a UTC offset", field="closed_at")
    if cmd.amount < 0:
        raise InvalidInput("amount must not be negative", field="amount")
    currency = cmd.currency.upper()
    to_minor(cmd.amount, currency)  # refused before anything is read
    async with uow:
        members = await _credited_members(uow, principal, split)
        if cmd.external_id is not None and await uow.repo.sale_by_external_id(
            org_id=principal.org, source="manual", external_id=cmd.external_id
        ):
            raise Conflict(f"a manual sale with external_id {cmd.external_id} exists")
        team = await team_ref(uow, org_id=principal.org, team_id=members[0].team_id)
        assert team is not None  # a member has a team
        change = SaleState.record(
            id=uuid.uuid4(),
            org_id=principal.org,
            source="manual",
            external_id=cmd.external_id,
            amount=cmd.amount,
            currency=currency,
            closed_at=cmd.closed_at,
            assignee=Assignee(members[0].id, team),
            split=split,
            at=now,
        )
        sale = await settle(uow, change=change, row=None, now=now)
        assert sale is not None  # a new sale is always stored
        view = await _view(uow, sale)
        await uow.commit()
    return view


async def assign_sale(
    cmd: AssignSale, *, uow: PerformanceUnitOfWork, principal: Principal, now: datetime
) -> SaleView:
    """Credit a sale to members: how a manager places an unassigned CRM sale."""
    split = validate_split(cmd.credits)
    async with uow:
        row = await uow.repo.sale(org_id=principal.org, sale_id=cmd.sale_id)
        if row is None:
            raise NotFound("no such sale")
        if row.team_id is not None and not await oversees(uow, principal, row.team_id):
            raise Forbidden("you do not manage this sale's team")
        members = await _credited_members(uow, principal, split)
        team = await team_ref(uow, org_id=principal.org, team_id=members[0].team_id)
        assert team is not None  # a member has a team
        change = (await sale_state(uow, row)).assign(split=split, team=team, at=now)
        await settle(uow, change=change, row=row, now=now)
        view = await _view(uow, row)
        await uow.commit()
    return view


async def reassign_credit(
    uow: PerformanceUnitOfWork,
    *,
    org_id: uuid.UUID,
    sale_id: uuid.UUID,
    to_member_id: uuid.UUID,
    percent: Decimal,
    now: datetime,
) -> bool:
    """Move percent points of a sale's credit to a member (a dispute outcome); False if moot."""
    row = await uow.repo.sale(org_id=org_id, sale_id=sale_id)
    member = await uow.repo.member(org_id=org_id, member_id=to_member_id)
    if row is None or member is None:
        return False
    change = (await sale_state(uow, row)).move_credit(
        to_member_id=to_member_id,
        percent=percent,
        team=await team_ref(uow, org_id=org_id, team_id=member.team_id),
        at=now,
    )
    await settle(uow, change=change, row=row, now=now)
    return True


@dataclass(frozen=True)
class ListSales:
    """Filters of the sales list."""

    member_id: uuid.UUID | None = None
    period_id: uuid.UUID | None = None
    unassigned: bool | None = None
    cursor: str | None = None
    limit: int = 50


async def list_sales(
    query: ListSales, *, uow: PerformanceUnitOfWork, principal: Principal
) -> tuple[list[SaleView], list[Sale]]:
    """Sales the caller may see: admins all, managers their teams' and unassigned, reps their own."""
    team_ids = credited_to = None
    if not principal.is_admin:
        if "manager" in principal.roles:
            team_ids = set(principal.teams)
        else:
            credited_to = principal.member_id or uuid.UUID(int=0)
    async with uow:
        period = None
        if query.period_id is not None:
            period = await uow.repo.period(org_id=principal.org, period_id=query.period_id)
            if period is None:
                raise NotFound("no such period")
        rows = await uow.repo.list_sales(
            org_id=principal.org,
            member_id=query.member_id,
            period=period,
            unassigned=query.unassigned,
            team_ids=team_ids,
            credited_to=credited_to,
            cursor=query.cursor,
            limit=query.limit,
        )
        shown = rows[: query.limit]
        credits = await uow.repo.credits_of(s.id for s in shown)
        valuations = await uow.fx.valuations_of(s.id for s in shown if s.currency_mismatch)
    views = [SaleView(s, credits[s.id], valuations.get(s.id, [])) for s in shown]
    return views, rows


async def get_sale(
    *, sale_id: uuid.UUID, uow: PerformanceUnitOfWork, principal: Principal
) -> SaleView:
    """One sale the caller may see (another org's or another rep's id is a 404)."""
    async with uow:
        sale = await uow.repo.sale(org_id=principal.org, sale_id=sale_id)
        if sale is None:
            raise NotFound("no such sale")
        view = await _view(uow, sale)
    credits = view.credits
    if not principal.is_admin:
        credited = principal.member_id in {c.member_id for c in credits}
        managed = "manager" in principal.roles and (
            sale.unassigned or (sale.team_id is not None and sale.team_id in principal.teams)
        )
        if not (credited or managed):
            raise NotFound("no such sale")
    return view


async def _view(uow: PerformanceUnitOfWork, sale: Sale) -> SaleView:
    """A sale with its credits and, when in another currency, its valuations."""
    credits = await uow.repo.credits(sale_id=sale.id)
    if not sale.currency_mismatch:
        return SaleView(sale, credits)
    return SaleView(sale, credits, list((await uow.fx.valuations(sale_id=sale.id)).values()))
