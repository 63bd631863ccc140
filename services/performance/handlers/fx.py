"""Exchange rates of a period: setting them re-values that period's sales in other currencies.

A rate change goes through the sales' own path (``sales.settle``): each converted sale of the
period gets its new valuation, attainment moves by the difference, a ``sale_adjusted`` fact is
emitted and the touched teams are marked for evaluation. The change and what it did to each sale
are kept as an audit trail.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from services.performance.adapters.orm import FxRate, FxRateChange, Period, SaleRevaluation
from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from services.performance.domain.fx import check_currency, check_rates, value_sale
from services.performance.domain.sales import credited_amounts
from services.performance.handlers.sales import contributions, settle
from shared.auth import Principal
from shared.domain_errors import InvalidInput, NotFound
from shared.events.performance import SaleAdjusted


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
    """Re-value the period's active sales in the changed currencies, recording each one."""
    sales = await uow.fx.sales_to_revalue(
        org_id=period.org_id, period=period, into=into, currencies=changes
    )
    for sale in sales:
        old = (await uow.fx.valuations(sale_id=sale.id)).get(period.id)
        old_minor = old.counted_minor if old is not None else None  # the row changes in place
        before = await contributions(uow, sale)
        sale.version += 1
        sale.updated_at = now
        valued = await settle(
            uow,
            sale=sale,
            before=before,
            now=now,
            fact=SaleAdjusted,
            old_amount_minor=sale.amount_minor,
        )
        new = valued.get(period.id)
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
    return len(sales)


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
        for sale in sales:
            valued = value_sale(
                sale.amount_minor,
                currency=sale.currency,
                team_currency=into,
                rates={period.id: table[sale.currency]},
            )
            current = await uow.fx.valuations(sale_id=sale.id)
            await uow.fx.replace_valuations(sale=sale, current=current, valued=valued, at=now)
            if period.id not in valued or sale.team_id is None:
                continue
            credits = await uow.repo.credits(sale_id=sale.id)
            split = {c.member_id: Decimal(c.percent) for c in credits}
            for member_id, minor in credited_amounts(
                valued[period.id].counted_minor, split
            ).items():
                await uow.repo.add_achieved(
                    org_id=period.org_id,
                    team_id=sale.team_id,
                    member_id=member_id,
                    period_id=period.id,
                    delta_minor=minor,
                )


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
