"""The facts a sale change emits, built the same way on the set-based and change-by-change paths."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from services.performance.adapters.orm import Period
from services.performance.domain.fx import Valuation
from services.performance.domain.sale import ChangeKind, SaleState
from shared.events.performance import Credit, SaleAdjusted, SaleLost, SaleRecorded, SaleReversed
from shared.money import from_minor

SaleFactEvent = SaleRecorded | SaleAdjusted | SaleReversed | SaleLost
FACTS: dict[ChangeKind, type[SaleFactEvent]] = {
    "recorded": SaleRecorded,
    "adjusted": SaleAdjusted,
    "reversed": SaleReversed,
    "lost": SaleLost,
}


class _FactSale(Protocol):
    """What a sale fact reads of a sale: the aggregate, or a stored row being re-valued."""

    @property
    def org_id(self) -> uuid.UUID: ...
    @property
    def team_id(self) -> uuid.UUID | None: ...
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def source(self) -> str: ...
    @property
    def external_id(self) -> str | None: ...
    @property
    def amount_minor(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def currency_mismatch(self) -> bool: ...
    @property
    def closed_at(self) -> datetime: ...
    @property
    def version(self) -> int: ...


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
    sale: SaleState,
    kind: ChangeKind,
    periods: list[Period],
    old_amount_minor: int,
    valued: Mapping[uuid.UUID, Valuation],
) -> SaleFactEvent:
    """The fact of a sale change, naming its most specific period and what it counts for there."""
    # The most specific period (a quarter rather than the year) names the sale's period.
    period = min(periods, key=lambda p: p.ends_at - p.starts_at, default=None)
    valuation = valued.get(period.id) if period is not None else None
    values = fact_values(
        sale,
        period_id=period.id if period is not None else None,
        credits=[Credit(member_id=s.member_id, percent=Decimal(s.percent)) for s in sale.credits],
    )
    values["competitor"] = sale.competitor
    if kind == "lost":
        values["reasons"] = list(sale.loss_reasons)
    if valuation is not None:
        values["counted_amount"] = from_minor(valuation.counted_minor, valuation.currency)
        values["counted_currency"] = valuation.currency
        values["fx_rate"] = valuation.rate
    if kind == "adjusted":
        values["old_amount"] = from_minor(old_amount_minor, sale.currency)
    return FACTS[kind](**values)
