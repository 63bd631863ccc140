"""Sales use cases: manual entry, assignment and credit moves (CRM changes: ``deal_batch``).

Every change follows one path: note the sale's contributions to attainment before, change the
sale, apply the difference to the (member, period) rows, emit the fact, re-evaluate the pace of
the teams and periods it touched.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from services.performance.adapters.orm import Period, Sale, SaleCredit
from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from services.performance.domain.sales import credited_amounts, move_credit, validate_split
from shared.auth import Principal
from shared.domain_errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.events.performance import Credit, SaleAdjusted, SaleRecorded, SaleReversed
from shared.money import from_minor, to_minor
from shared.timeutil import as_utc, utcnow

Contributions = dict[tuple[uuid.UUID, uuid.UUID, uuid.UUID], int]  # (member, team, period)


@dataclass(frozen=True)
class SaleView:
    """A sale with its credits, as handlers return it."""

    sale: Sale
    credits: list[SaleCredit]


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


# -- the shared path of every change ----------------------------------------------------------


def _counts(sale: Sale) -> bool:
    return sale.status == "active" and not sale.currency_mismatch and sale.team_id is not None


async def contributions(uow: PerformanceUnitOfWork, sale: Sale) -> Contributions:
    """What a sale adds to attainment now: credited amounts per member, team and period."""
    if not _counts(sale):
        return {}
    credits = await uow.repo.credits(sale_id=sale.id)
    periods = await uow.repo.periods_containing(org_id=sale.org_id, instant=sale.closed_at)
    return await _contributions_of(uow, sale, credits, periods)


async def _contributions_of(
    uow: PerformanceUnitOfWork, sale: Sale, credits: list[SaleCredit], periods: list[Period]
) -> Contributions:
    if not _counts(sale):
        return {}
    members = await uow.repo.members(org_id=sale.org_id, ids=[c.member_id for c in credits])
    result: Contributions = defaultdict(int)
    for credit in credits:
        member = members.get(credit.member_id)
        team_id = member.team_id if member is not None else sale.team_id
        for period in periods:
            result[(credit.member_id, team_id, period.id)] += credit.credited_minor
    return dict(result)


async def settle(
    uow: PerformanceUnitOfWork,
    *,
    sale: Sale,
    before: Contributions,
    now: datetime,
    fact: type[SaleRecorded | SaleAdjusted | SaleReversed] | None,
    old_amount_minor: int | None = None,
) -> None:
    """Apply a sale change to attainment, emit its fact and ask for the touched teams' evaluation."""
    uow.repo.add(sale)
    await uow.repo.flush()
    emitted = fact if sale.team_id is not None else None
    credits: list[SaleCredit] = []
    periods: list[Period] = []
    if emitted is not None or _counts(sale):  # read once for both the attainment and the fact
        credits = await uow.repo.credits(sale_id=sale.id)
        periods = await uow.repo.periods_containing(org_id=sale.org_id, instant=sale.closed_at)
    after = await _contributions_of(uow, sale, credits, periods)
    touched: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for team_id in sorted({team for _, team, _ in before.keys() | after.keys()}, key=str):
        await uow.repo.lock_team(org_id=sale.org_id, team_id=team_id)  # in one order: no deadlock
    for key in before.keys() | after.keys():
        delta = after.get(key, 0) - before.get(key, 0)
        member_id, team_id, period_id = key
        touched.add((team_id, period_id))
        if delta:
            await uow.repo.add_achieved(
                org_id=sale.org_id,
                team_id=team_id,
                member_id=member_id,
                period_id=period_id,
                delta_minor=delta,
            )
    if emitted is not None:
        uow.emit(_sale_fact(sale, emitted, credits, periods, old_amount_minor))
    # Evaluated once the burst settles (jobs.evaluate_settled), so a backfill does not
    # rebalance on half its data and a sale does not pay for a whole team's evaluation.
    marked_at = utcnow()
    for team_id, period_id in sorted(touched, key=str):
        await uow.repo.mark_evaluation_due(
            org_id=sale.org_id, team_id=team_id, period_id=period_id, at=marked_at
        )


def _sale_fact(
    sale: Sale,
    fact: type,
    credits: list[SaleCredit],
    periods: list[Period],
    old_amount_minor: int | None,
) -> SaleRecorded | SaleAdjusted | SaleReversed:
    # The most specific period (a quarter rather than the year) names the sale's period.
    period = min(periods, key=lambda p: as_utc(p.ends_at) - as_utc(p.starts_at), default=None)
    values = {
        "org_id": sale.org_id,
        "team_id": sale.team_id,
        "sale_id": sale.id,
        "source": sale.source,
        "external_id": sale.external_id,
        "amount": from_minor(sale.amount_minor, sale.currency),
        "currency": sale.currency,
        "closed_at": as_utc(sale.closed_at),
        "period_id": period.id if period is not None else None,
        "credits": [Credit(member_id=c.member_id, percent=Decimal(c.percent)) for c in credits],
        "version": sale.version,
    }
    if fact is SaleAdjusted:
        values["old_amount"] = from_minor(
            old_amount_minor if old_amount_minor is not None else sale.amount_minor, sale.currency
        )
    return fact(**values)


async def _set_split(
    uow: PerformanceUnitOfWork,
    sale: Sale,
    split: Mapping[uuid.UUID, Decimal],
    *,
    new_sale: bool = False,
) -> None:
    amounts = credited_amounts(sale.amount_minor, split)
    await uow.repo.replace_credits(
        sale_id=sale.id,
        credits={m: (str(p), amounts[m]) for m, p in split.items()},
        new_sale=new_sale,
    )


async def _refresh_team(uow: PerformanceUnitOfWork, sale: Sale, team_id: uuid.UUID) -> None:
    """Tie a sale to a team, adopt the team currency if the CRM gave none, flag a mismatch."""
    sale.team_id = team_id
    sale.unassigned = False
    team = await uow.repo.team(org_id=sale.org_id, team_id=team_id)
    if team is None:
        sale.currency_mismatch = False
        return
    if sale.currency_assumed:
        sale.currency = team.currency
        sale.currency_assumed = False
    sale.currency_mismatch = sale.currency != team.currency


# -- manual entry, assignment, credit moves ---------------------------------------------------


async def _credited_members(
    uow: PerformanceUnitOfWork, principal: Principal, split: Mapping[uuid.UUID, Decimal]
) -> list:
    members = await uow.repo.members(org_id=principal.org, ids=split)
    missing = [str(m) for m in split if m not in members or not members[m].active]
    if missing:
        raise NotFound("no such active member", member_ids=missing)
    ordered = [members[m] for m in split]
    for member in ordered:
        if not principal.manages(member.team_id):
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
    amount_minor = to_minor(cmd.amount, currency)
    async with uow:
        members = await _credited_members(uow, principal, split)
        if cmd.external_id is not None and await uow.repo.sale_by_external_id(
            org_id=principal.org, source="manual", external_id=cmd.external_id
        ):
            raise Conflict(f"a manual sale with external_id {cmd.external_id} exists")
        sale = Sale.model_validate(
            {
                "org_id": principal.org,
                "source": "manual",
                "external_id": cmd.external_id,
                "amount_minor": amount_minor,
                "currency": currency,
                "closed_at": as_utc(cmd.closed_at),
                "created_at": now,
                "updated_at": now,
            }
        )
        await _refresh_team(uow, sale, members[0].team_id)
        uow.repo.add(sale)
        await uow.repo.flush()
        await _set_split(uow, sale, split, new_sale=True)
        await settle(uow, sale=sale, before={}, now=now, fact=SaleRecorded)
        view = SaleView(sale, await uow.repo.credits(sale_id=sale.id))
        await uow.commit()
    return view


async def assign_sale(
    cmd: AssignSale, *, uow: PerformanceUnitOfWork, principal: Principal, now: datetime
) -> SaleView:
    """Credit a sale to members: how a manager places an unassigned CRM sale."""
    split = validate_split(cmd.credits)
    async with uow:
        sale = await uow.repo.sale(org_id=principal.org, sale_id=cmd.sale_id)
        if sale is None:
            raise NotFound("no such sale")
        if sale.team_id is not None and not principal.manages(sale.team_id):
            raise Forbidden("you do not manage this sale's team")
        members = await _credited_members(uow, principal, split)
        before = await contributions(uow, sale)
        was_assigned = sale.team_id is not None
        await _set_split(uow, sale, split)
        await _refresh_team(uow, sale, members[0].team_id)
        sale.version += 1
        sale.updated_at = now
        fact = SaleAdjusted if was_assigned else SaleRecorded
        await settle(
            uow, sale=sale, before=before, now=now, fact=fact, old_amount_minor=sale.amount_minor
        )
        view = SaleView(sale, await uow.repo.credits(sale_id=sale.id))
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
    sale = await uow.repo.sale(org_id=org_id, sale_id=sale_id)
    member = await uow.repo.member(org_id=org_id, member_id=to_member_id)
    if sale is None or member is None:
        return False
    credits = await uow.repo.credits(sale_id=sale.id)
    split = move_credit(
        {c.member_id: Decimal(c.percent) for c in credits},
        to_member_id=to_member_id,
        percent=percent,
    )
    before = await contributions(uow, sale)
    await _set_split(uow, sale, split)
    if sale.team_id is None:
        await _refresh_team(uow, sale, member.team_id)
    sale.version += 1
    sale.updated_at = now
    await settle(
        uow,
        sale=sale,
        before=before,
        now=now,
        fact=SaleAdjusted,
        old_amount_minor=sale.amount_minor,
    )
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
        credits = await uow.repo.credits_of(s.id for s in rows[: query.limit])
    return [SaleView(s, credits[s.id]) for s in rows[: query.limit]], rows


async def get_sale(
    *, sale_id: uuid.UUID, uow: PerformanceUnitOfWork, principal: Principal
) -> SaleView:
    """One sale the caller may see (another org's or another rep's id is a 404)."""
    async with uow:
        sale = await uow.repo.sale(org_id=principal.org, sale_id=sale_id)
        credits = await uow.repo.credits(sale_id=sale_id) if sale is not None else []
    if sale is None:
        raise NotFound("no such sale")
    if not principal.is_admin:
        credited = principal.member_id in {c.member_id for c in credits}
        managed = "manager" in principal.roles and (
            sale.unassigned or (sale.team_id is not None and sale.team_id in principal.teams)
        )
        if not (credited or managed):
            raise NotFound("no such sale")
    return SaleView(sale, credits)
