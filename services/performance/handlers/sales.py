"""Sales use cases: manual entry, assignment and credit moves (CRM changes: ``deal_batch``).

Every change follows one path: note the sale's contributions to attainment before, change the
sale, apply the difference to the (member, period) rows, emit the fact, re-evaluate the pace of
the teams and periods it touched.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from services.performance.adapters.crm.base import DealEvent, MalformedWebhook, close_instant
from services.performance.adapters.orm import Period, Sale, SaleCredit, SaleValuation
from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from services.performance.domain.deal_changes import UNKNOWN_CURRENCY
from services.performance.domain.fx import Valuation, value_sale
from services.performance.domain.sales import credited_amounts, move_credit, validate_split
from services.performance.handlers.access import oversees
from shared.auth import Principal
from shared.domain_errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.events.performance import (
    Credit,
    SaleAdjusted,
    SaleLost,
    SaleRecorded,
    SaleReversed,
)
from shared.money import from_minor, to_minor
from shared.timeutil import utcnow

Contributions = dict[tuple[uuid.UUID, uuid.UUID, uuid.UUID], int]  # (member, team, period)


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


# -- the shared path of every change ----------------------------------------------------------


def _counts(sale: Sale) -> bool:
    return sale.status == "active" and not sale.currency_mismatch and sale.team_id is not None


def _converts(sale: Sale) -> bool:
    """A sale in another currency than its team's: it counts only where a period's rate values it."""
    return sale.status == "active" and sale.currency_mismatch and sale.team_id is not None


async def contributions(uow: PerformanceUnitOfWork, sale: Sale) -> Contributions:
    """What a sale adds to attainment now: credited amounts per member, team and period."""
    if not (_counts(sale) or _converts(sale)):
        return {}
    credits = await uow.repo.credits(sale_id=sale.id)
    if _converts(sale):
        counted = {
            p: v.counted_minor for p, v in (await uow.fx.valuations(sale_id=sale.id)).items()
        }
        return await _contributions_of(uow, sale, credits, [], counted)
    periods = await uow.repo.periods_containing(org_id=sale.org_id, instant=sale.closed_at)
    return await _contributions_of(uow, sale, credits, periods, {})


async def _contributions_of(
    uow: PerformanceUnitOfWork,
    sale: Sale,
    credits: list[SaleCredit],
    periods: list[Period],
    counted: Mapping[uuid.UUID, int],
) -> Contributions:
    """Credited amounts per period: as sold, or (converted sales) split from each period's value."""
    if _counts(sale):
        shares = {c.member_id: c.credited_minor for c in credits}
        by_period = {period.id: shares for period in periods}
    elif _converts(sale):
        split = {c.member_id: Decimal(c.percent) for c in credits}
        by_period = {p: credited_amounts(minor, split) for p, minor in counted.items()}
    else:
        return {}
    members = await uow.repo.members(org_id=sale.org_id, ids=[c.member_id for c in credits])
    result: Contributions = defaultdict(int)
    for period_id, shares in by_period.items():
        for member_id, minor in shares.items():
            member = members.get(member_id)
            team_id = member.team_id if member is not None else sale.team_id
            result[(member_id, team_id, period_id)] += minor
    return dict(result)


async def _revalue(
    uow: PerformanceUnitOfWork, sale: Sale, periods: list[Period], now: datetime
) -> dict[uuid.UUID, Valuation]:
    """Value a sale in another currency at its periods' rates and store what it counts for."""
    team = await uow.repo.team(org_id=sale.org_id, team_id=sale.team_id) if sale.team_id else None
    if team is None or not sale.currency_mismatch:
        return {}
    # A rate change holds the team rows while it re-values: read the rates only after it is done.
    await uow.repo.lock_team(org_id=sale.org_id, team_id=team.id)
    rates = await uow.fx.rates_for(
        period_ids=[p.id for p in periods], source=sale.currency, into=team.currency
    )
    valued = value_sale(
        sale.amount_minor, currency=sale.currency, team_currency=team.currency, rates=rates
    )
    current = await uow.fx.valuations(sale_id=sale.id)
    await uow.fx.replace_valuations(sale=sale, current=current, valued=valued, at=now)
    return valued


async def settle(
    uow: PerformanceUnitOfWork,
    *,
    sale: Sale,
    before: Contributions,
    now: datetime,
    fact: type[SaleRecorded | SaleAdjusted | SaleReversed | SaleLost] | None,
    old_amount_minor: int | None = None,
) -> None:
    """Apply a sale change to attainment, emit its fact and ask for the touched teams' evaluation."""
    uow.repo.add(sale)
    await uow.repo.flush()
    emitted = fact if sale.team_id is not None else None
    if emitted is not None and sale.status == "lost":
        emitted = SaleLost  # a lost deal assigned or re-credited is still a lost deal
    credits: list[SaleCredit] = []
    periods: list[Period] = []
    if emitted is not None or _counts(sale) or _converts(sale):  # read once: attainment and fact
        credits = await uow.repo.credits(sale_id=sale.id)
        periods = await uow.repo.periods_containing(org_id=sale.org_id, instant=sale.closed_at)
    valued = await _revalue(uow, sale, periods, now)
    counted = {p: v.counted_minor for p, v in valued.items()}
    after = await _contributions_of(uow, sale, credits, periods, counted)
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
        uow.emit(sale_fact(sale, emitted, credits, periods, old_amount_minor, valued))
    # Evaluated once the burst settles (jobs.evaluate_settled), so a backfill does not
    # rebalance on half its data and a sale does not pay for a whole team's evaluation.
    marked_at = utcnow()
    for team_id, period_id in sorted(touched, key=str):
        await uow.repo.mark_evaluation_due(
            org_id=sale.org_id, team_id=team_id, period_id=period_id, at=marked_at
        )


class _FactSale(Protocol):
    """What a sale fact reads of a sale: the ORM row, or the batch planner's ``SaleState``."""

    org_id: uuid.UUID
    team_id: uuid.UUID | None
    id: uuid.UUID
    source: str
    external_id: str
    amount_minor: int
    currency: str
    currency_mismatch: bool
    closed_at: datetime
    version: int


def fact_values(
    sale: _FactSale, *, period_id: uuid.UUID | None, credits: list[Credit]
) -> dict[str, object]:
    """The fields every sale fact carries; a sale in its team's currency counts as sold."""
    amount = from_minor(sale.amount_minor, sale.currency)
    values: dict[str, object] = {
        "org_id": sale.org_id,
        "team_id": sale.team_id,
        "sale_id": sale.id,
        "source": sale.source,
        "external_id": sale.external_id,
        "amount": amount,
        "currency": sale.currency,
        "closed_at": sale.closed_at,
        "period_id": period_id,
        "credits": credits,
        "version": sale.version,
    }
    if not sale.currency_mismatch:
        values["counted_amount"], values["counted_currency"] = amount, sale.currency
    return values


def sale_fact(
    sale: Sale,
    fact: type,
    credits: list[SaleCredit],
    periods: list[Period],
    old_amount_minor: int | None,
    valued: Mapping[uuid.UUID, Valuation],
) -> SaleRecorded | SaleAdjusted | SaleReversed | SaleLost:
    """The fact of a sale change, naming its most specific period and what it counts for there."""
    # The most specific period (a quarter rather than the year) names the sale's period.
    period = min(periods, key=lambda p: p.ends_at - p.starts_at, default=None)
    valuation = valued.get(period.id) if period is not None else None
    values = fact_values(
        sale,
        period_id=period.id if period is not None else None,
        credits=[Credit(member_id=c.member_id, percent=Decimal(c.percent)) for c in credits],
    )
    values["competitor"] = sale.competitor
    if fact is SaleLost:
        values["reasons"] = list(sale.loss_reasons or ())
    if valuation is not None:
        values["counted_amount"] = from_minor(valuation.counted_minor, valuation.currency)
        values["counted_currency"] = valuation.currency
        values["fx_rate"] = valuation.rate
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


# -- CRM deal changes -------------------------------------------------------------------------


async def apply_deal_event(
    uow: PerformanceUnitOfWork, *, org_id: uuid.UUID, event: DealEvent, now: datetime
) -> None:
    """Upsert the sale of a CRM deal: won records (or re-activates), changes adjust, reversal reverses.

    Lost deals have their own path (``lost_deals.apply_lost_deal``).
    """
    if event.kind == "lost":
        raise ValueError("a lost deal is applied by lost_deals.apply_lost_deal")
    repo = uow.repo
    sale = await repo.sale_by_external_id(
        org_id=org_id, source=event.source, external_id=event.external_id
    )
    if event.kind == "reversed":
        if sale is None or sale.status == "reversed":
            return  # reversing a sale we never kept changes nothing
        # A lost deal reopened leaves the lost deals too (its contributions were none).
        before = await contributions(uow, sale)
        sale.status = "reversed"
        sale.version += 1
        sale.updated_at = now
        await settle(uow, sale=sale, before=before, now=now, fact=SaleReversed)
        return
    timezone = "UTC"
    if event.closed_at is None and event.closed_on is not None:
        timezone = await repo.timezone_for_day(org_id=org_id, day=event.closed_on)
    closed_at = close_instant(event, timezone) or (sale.closed_at if sale else now)
    if sale is None:
        await _record_deal(uow, org_id=org_id, event=event, closed_at=closed_at, now=now)
        return
    before = await contributions(uow, sale)
    reactivated = sale.status != "active"
    old_amount = sale.amount_minor
    currency = event.currency or sale.currency
    amount_minor = _minor(event.amount or Decimal(0), currency)
    changed = (amount_minor, currency, closed_at) != (
        sale.amount_minor,
        sale.currency,
        sale.closed_at,
    )
    sale.amount_minor, sale.closed_at = amount_minor, closed_at
    if event.currency is not None:
        sale.currency, sale.currency_assumed = event.currency, False
    if event.competitor is not None:
        changed |= event.competitor != sale.competitor
        sale.competitor = event.competitor
    sale.status, sale.loss_reasons = "active", []
    if sale.unassigned:
        member = await repo.member_for_owner(
            org_id=org_id, source=event.source, owner_ref=event.owner_ref, email=event.owner_email
        )
        if member is not None:
            await _set_split(uow, sale, {member.id: Decimal(100)})
            await _refresh_team(uow, sale, member.team_id)
            changed, reactivated = True, True
    elif changed:
        credits = await repo.credits(sale_id=sale.id)
        await _set_split(uow, sale, {c.member_id: Decimal(c.percent) for c in credits})
        if sale.team_id is not None:
            await _refresh_team(uow, sale, sale.team_id)
    if not changed and not reactivated:
        return
    sale.version += 1
    sale.updated_at = now
    fact = SaleRecorded if reactivated else SaleAdjusted
    await settle(uow, sale=sale, before=before, now=now, fact=fact, old_amount_minor=old_amount)


async def _record_deal(
    uow: PerformanceUnitOfWork,
    *,
    org_id: uuid.UUID,
    event: DealEvent,
    closed_at: datetime,
    now: datetime,
) -> None:
    member = await uow.repo.member_for_owner(
        org_id=org_id, source=event.source, owner_ref=event.owner_ref, email=event.owner_email
    )
    team = (
        await uow.repo.team(org_id=org_id, team_id=member.team_id) if member is not None else None
    )
    currency = event.currency or (team.currency if team is not None else UNKNOWN_CURRENCY)
    sale = Sale.model_validate(
        {
            "org_id": org_id,
            "source": event.source,
            "external_id": event.external_id,
            "amount_minor": _minor(event.amount or Decimal(0), currency),
            "currency": currency,
            "currency_assumed": event.currency is None and team is None,
            # A deal first heard of as lost is kept lost (never counted) with its reasons.
            "status": "lost" if event.kind == "lost" else "active",
            "loss_reasons": list(event.reasons),
            "closed_at": closed_at,
            "unassigned": member is None,
            "owner_ref": event.owner_ref,
            "owner_email": event.owner_email,
            "competitor": event.competitor,
            "created_at": now,
            "updated_at": now,
        }
    )
    if member is not None:
        # Before the first flush, so the sale is inserted complete rather than inserted and updated.
        await _refresh_team(uow, sale, member.team_id)
    uow.repo.add(sale)
    await uow.repo.flush()
    if member is not None:
        await _set_split(uow, sale, {member.id: Decimal(100)}, new_sale=True)
    fact = SaleLost if event.kind == "lost" else SaleRecorded
    await settle(uow, sale=sale, before={}, now=now, fact=fact)


def _minor(amount: Decimal, currency: str) -> int:
    try:
        return to_minor(amount, currency)
    except InvalidInput as error:
        raise MalformedWebhook(error.detail, **error.extra) from None


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
                "closed_at": cmd.closed_at,
                "created_at": now,
                "updated_at": now,
            }
        )
        await _refresh_team(uow, sale, members[0].team_id)
        uow.repo.add(sale)
        await uow.repo.flush()
        await _set_split(uow, sale, split, new_sale=True)
        await settle(uow, sale=sale, before={}, now=now, fact=SaleRecorded)
        view = await _view(uow, sale)
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
        if sale.team_id is not None and not await oversees(uow, principal, sale.team_id):
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
        view = await _view(uow, sale)
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
