"""Exchange rates of a period: setting them re-values that period's sales in other currencies.

A rate change does what a sale change does (``attainment_ledger.settle``), for all the period's sales in the
changed currencies at once: each gets its new valuation, attainment moves by the difference, a
``sale_adjusted`` fact is emitted and the touched teams are marked for evaluation. The change
and what it did to each sale are kept as an audit trail.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from services.performance.adapters.orm import (
    FxRate,
    FxRateChange,
    Period,
    SaleRevaluation,
    SaleValuation,
)
from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from services.performance.domain.attainment import Contributions
from services.performance.domain.fx import Valuation, check_currency, check_rates, value_sale
from services.performance.domain.sales import credited_amounts
from services.performance.handlers.attainment_ledger import add_achieved, move_attainment
from services.performance.handlers.sale_facts import sale_fact
from shared.auth import Principal
from shared.domain_errors import InvalidInput, NotFound

#: Sales re-valued per round of queries (well inside every database's bound-parameter limit).
_CHUNK = 500


@dataclass(frozen=True)
class SetFxRates:
    """Replace a period's rates into one currency (`into`: the teams' one when they share it)."""

    period_id: uuid.UUID
    rates: Mapping[str, Decimal]
    into: str | None = None


@dataclass(frozen=True)
class RateTable:
    """A period's rates into one currency."""

    into: str
    rates: dict[str, str]
    updated_at: datetime | None
    updated_by: str | None


@dataclass(frozen=True)
class RatesSet:
    """The table as set, and what it changed."""

    period_id: uuid.UUID
    table: RateTable
    changed: list[str] = field(default_factory=list)
    revalued: int = 0


async def set_fx_rates(
    cmd: SetFxRates, *, uow: PerformanceUnitOfWork, principal: Principal, now: datetime
) -> RatesSet:
    """Set a period's rates into a currency and re-value its sales in the changed currencies."""
    async with uow:
        period = await _period(uow, principal, cmd.period_id)
        into = await _into(uow, principal.org, cmd.into)
        rates = check_rates(cmd.rates, into=into)
        # Sales of these teams settle under the same locks: none is valued at a stale rate.
        await uow.fx.lock_teams_in(org_id=principal.org, currency=into)
        current = {r.from_currency: r for r in await uow.fx.rates(period_id=period.id)}
        current = {c: r for c, r in current.items() if r.into_currency == into}
        changes = await _apply_rates(uow, period, into, current, rates, principal.sub, now)
        await uow.repo.flush()
        revalued = await _revalue_period(uow, period, into, changes, now)
        table = _table(into, await uow.fx.rates(period_id=period.id))
        await uow.commit()
    return RatesSet(period.id, table, sorted(changes), revalued)


async def _apply_rates(
    uow: PerformanceUnitOfWork,
    period: Period,
    into: str,
    current: Mapping[str, FxRate],
    rates: Mapping[str, Decimal],
    actor: str,
    now: datetime,
) -> dict[str, FxRateChange]:
    """Stage the new table and an audit record of each currency whose rate differs."""
    changes: dict[str, FxRateChange] = {}
    for code in sorted(current.keys() | rates.keys()):
        old = current.get(code)
        new = rates.get(code)
        if old is not None and new is not None and Decimal(old.rate) == new:
            continue
        changes[code] = uow.fx.record_change(
            {
                "org_id": period.org_id,
                "period_id": period.id,
                "into_currency": into,
                "from_currency": code,
                "old_rate": old.rate if old is not None else None,
                "new_rate": str(new) if new is not None else None,
                "changed_by": actor[:200],
                "changed_at": now,
            }
        )
        row = old or FxRate.model_validate(
            {
                "period_id": period.id,
                "into_currency": into,
                "from_currency": code,
                "org_id": period.org_id,
                "rate": str(new),
                "set_by": actor[:200],
                "set_at": now,
            }
        )
        if new is None:
            await uow.fx.remove(row)
            continue
        row.rate, row.set_by, row.set_at = str(new), actor[:200], now
        uow.fx.add(row)
    return changes


async def _revalue_period(
    uow: PerformanceUnitOfWork,
    period: Period,
    into: str,
    changes: Mapping[str, FxRateChange],
    now: datetime,
) -> int:
    """Re-value the period's active sales in the changed currencies, in a few set-based steps."""
    sales = await uow.fx.sales_to_revalue(
        org_id=period.org_id, period=period, into=into, currencies=changes
    )
    rates = {code: Decimal(c.new_rate) for code, c in changes.items() if c.new_rate is not None}
    periods = await uow.fx.periods_overlapping(period=period)
    deltas: Contributions = defaultdict(int)
    for start in range(0, len(sales), _CHUNK):
        chunk = sales[start : start + _CHUNK]
        credits = await uow.repo.credits_of(s.id for s in chunk)
        stored = await uow.fx.valuations_of(s.id for s in chunk)
        wanted = {c.member_id for cs in credits.values() for c in cs}
        members = await uow.repo.members(org_id=period.org_id, ids=wanted)
        for sale in chunk:
            current = {v.period_id: v for v in stored[sale.id]}
            old = current.get(period.id)
            old_minor = old.counted_minor if old is not None else None
            rate = rates.get(sale.currency)
            valued = value_sale(
                sale.amount_minor,
                currency=sale.currency,
                team_currency=into,
                rates={period.id: rate} if rate is not None else {},
            )
            new = valued.get(period.id)
            split = {c.member_id: Decimal(c.percent) for c in credits[sale.id]}
            before = credited_amounts(old_minor, split) if old_minor is not None else {}
            after = credited_amounts(new.counted_minor, split) if new is not None else {}
            for member_id in before.keys() | after.keys():
                member = members.get(member_id)
                team_id = member.team_id if member is not None else sale.team_id
                if team_id is not None:
                    key = (member_id, team_id, period.id)
                    deltas[key] += after.get(member_id, 0) - before.get(member_id, 0)
            await uow.fx.replace_valuations(
                sale=sale, current={period.id: old} if old else {}, valued=valued, at=now
            )
            change = sale.state(credits[sale.id]).revalued(at=now)
            sale.take(change.after)
            uow.fx.add(sale)
            held = {p: _domain(v) for p, v in current.items() if p != period.id} | valued
            closed = sale.closed_at
            containing = [p for p in periods if p.starts_at <= closed < p.ends_at]
            uow.emit(sale_fact(change.after, "adjusted", containing, sale.amount_minor, held))
            uow.fx.add(
                SaleRevaluation.model_validate(
                    {
                        "change_id": changes[sale.currency].id,
                        "sale_id": sale.id,
                        "currency": into,
                        "old_counted_minor": old_minor,
                        "new_counted_minor": new.counted_minor if new is not None else None,
                    }
                )
            )
        await uow.repo.flush()
    await move_attainment(uow, org_id=period.org_id, moved=deltas)
    return len(sales)


def _domain(row: SaleValuation) -> Valuation:
    return Valuation(row.period_id, row.currency, Decimal(row.rate), row.counted_minor)


async def rebuild_period_valuations(
    uow: PerformanceUnitOfWork, period: Period, now: datetime
) -> None:
    """After a period's achieved amounts were rebuilt from its sales, add its converted ones."""
    await uow.fx.drop_period_valuations(period_id=period.id)
    by_into: dict[str, list[FxRate]] = defaultdict(list)
    for rate in await uow.fx.rates(period_id=period.id):
        by_into[rate.into_currency].append(rate)
    for into, rates in by_into.items():
        table = {r.from_currency: Decimal(r.rate) for r in rates}
        sales = await uow.fx.sales_to_revalue(
            org_id=period.org_id, period=period, into=into, currencies=table
        )
        deltas: Contributions = defaultdict(int)
        for sale in sales:
            valued = value_sale(
                sale.amount_minor,
                currency=sale.currency,
                team_currency=into,
                rates={period.id: table[sale.currency]},
            )
            # This period's valuations were just dropped; the sale's others stay as they are.
            await uow.fx.replace_valuations(sale=sale, current={}, valued=valued, at=now)
            if period.id not in valued or sale.team_id is None:
                continue
            credits = await uow.repo.credits(sale_id=sale.id)
            split = {c.member_id: Decimal(c.percent) for c in credits}
            counted = valued[period.id].counted_minor
            for member_id, minor in credited_amounts(counted, split).items():
                deltas[(member_id, sale.team_id, period.id)] += minor
        await add_achieved(uow, org_id=period.org_id, moved=deltas)


async def get_fx_rates(
    *, period_id: uuid.UUID, uow: PerformanceUnitOfWork, principal: Principal
) -> list[RateTable]:
    """A period's rate tables, one per currency converted into."""
    async with uow:
        period = await _period(uow, principal, period_id)
        rows = await uow.fx.rates(period_id=period.id)
    by_into: dict[str, list[FxRate]] = defaultdict(list)
    for row in rows:
        by_into[row.into_currency].append(row)
    return [_table(into, by_into[into]) for into in sorted(by_into)]


async def list_fx_changes(
    *, period_id: uuid.UUID, uow: PerformanceUnitOfWork, principal: Principal, limit: int
) -> list[tuple[FxRateChange, list[SaleRevaluation]]]:
    """A period's rate changes, newest first, each with the sales it re-valued."""
    async with uow:
        period = await _period(uow, principal, period_id)
        return await uow.fx.changes(period_id=period.id, limit=limit)


async def _period(uow: PerformanceUnitOfWork, principal: Principal, period_id: uuid.UUID) -> Period:
    period = await uow.repo.period(org_id=principal.org, period_id=period_id)
    if period is None:
        raise NotFound("no such period")
    return period


async def _into(uow: PerformanceUnitOfWork, org_id: uuid.UUID, into: str | None) -> str:
    """The currency rates convert into: as given, else the one all the org's teams work in."""
    if into is not None:
        return check_currency(into, field="into")
    currencies = await uow.fx.team_currencies(org_id=org_id)
    if len(currencies) != 1:
        known = ", ".join(sorted(currencies)) or "none known yet"
        raise InvalidInput(
            f"name the currency these rates convert into (into); the teams work in {known}",
            field="into",
        )
    return currencies.pop()


def _table(into: str, rows: list[FxRate]) -> RateTable:
    mine = [r for r in rows if r.into_currency == into]
    latest = max(mine, key=lambda r: r.set_at, default=None)
    return RateTable(
        into=into,
        rates={r.from_currency: r.rate for r in mine},
        updated_at=latest.set_at if latest is not None else None,
        updated_by=latest.set_by if latest is not None else None,
    )
