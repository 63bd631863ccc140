"""Queries of period exchange rates, sale valuations and their audit trail; none commits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.performance.adapters.orm import (
    FxRate,
    FxRateChange,
    Period,
    Sale,
    SaleRevaluation,
    SaleValuation,
    Team,
)
from services.performance.domain.fx import Valuation


class FxRepository:
    """Reads and writes of rates and valuations in one unit of work."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def rates(self, *, period_id: uuid.UUID) -> list[FxRate]:
        """Every rate of a period, by currency converted into, then from."""
        rows = await self._session.exec(
            select(FxRate)
            .where(FxRate.period_id == period_id)
            .order_by(col(FxRate.into_currency), col(FxRate.from_currency))
        )
        return list(rows.all())

    async def rates_for(
        self, *, period_ids: Iterable[uuid.UUID], source: str, into: str
    ) -> dict[uuid.UUID, Decimal]:
        """The rate from one currency into another in each of the periods that has one."""
        wanted = list(period_ids)
        if not wanted or source == into:
            return {}
        rows = await self._session.exec(
            select(FxRate.period_id, FxRate.rate).where(
                col(FxRate.period_id).in_(wanted),
                FxRate.from_currency == source,
                FxRate.into_currency == into,
            )
        )
        return {period_id: Decimal(rate) for period_id, rate in rows.all()}

    def add(self, row: object) -> None:
        """Stage a new or changed row."""
        self._session.add(row)

    async def remove(self, row: object) -> None:
        """Stage the deletion of a row."""
        await self._session.delete(row)

    async def team_currencies(self, *, org_id: uuid.UUID) -> set[str]:
        """The currencies the org's teams work in."""
        rows = await self._session.exec(select(Team.currency).where(Team.org_id == org_id))
        return set(rows.all())

    async def lock_teams_in(self, *, org_id: uuid.UUID, currency: str) -> list[uuid.UUID]:
        """Hold the rows of the org's teams working in a currency, in id order (as settle does)."""
        rows = await self._session.exec(
            select(Team.id)
            .where(Team.org_id == org_id, Team.currency == currency)
            .order_by(col(Team.id))
            .with_for_update()
        )
        return list(rows.all())

    async def sales_to_revalue(
        self, *, org_id: uuid.UUID, period: Period, into: str, currencies: Iterable[str]
    ) -> list[Sale]:
        """Active sales closed in a period, of teams working in `into`, in one of the currencies."""
        wanted = sorted(set(currencies))
        if not wanted:
            return []
        stmt = (
            select(Sale)
            .join(Team, col(Team.id) == Sale.team_id)
            .where(
                Sale.org_id == org_id,
                Sale.status == "active",
                Team.currency == into,
                col(Sale.currency).in_(wanted),
                Sale.closed_at >= period.starts_at,
                Sale.closed_at < period.ends_at,
            )
            .order_by(col(Sale.closed_at), col(Sale.id))
        )
        return list((await self._session.exec(stmt)).all())

    async def periods_overlapping(self, *, period: Period) -> list[Period]:
        """The org's periods sharing any instant with a period (itself included)."""
        rows = await self._session.exec(
            select(Period).where(
                Period.org_id == period.org_id,
                Period.starts_at < period.ends_at,
                Period.ends_at > period.starts_at,
            )
        )
        return list(rows.all())

    async def valuations(self, *, sale_id: uuid.UUID) -> dict[uuid.UUID, SaleValuation]:
        """A sale's valuations by period."""
        rows = await self._session.exec(
            select(SaleValuation).where(SaleValuation.sale_id == sale_id)
        )
        return {v.period_id: v for v in rows.all()}

    async def valuations_of(
        self, sale_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, list[SaleValuation]]:
        """Valuations of several sales, by sale."""
        wanted = list(sale_ids)
        found: dict[uuid.UUID, list[SaleValuation]] = {s: [] for s in wanted}
        if wanted:
            rows = await self._session.exec(
                select(SaleValuation).where(col(SaleValuation.sale_id).in_(wanted))
            )
            for row in rows.all():
                found[row.sale_id].append(row)
        return found

    async def replace_valuations(
        self,
        *,
        sale: Sale,
        current: Mapping[uuid.UUID, SaleValuation],
        valued: Mapping[uuid.UUID, Valuation],
        at: datetime,
    ) -> None:
        """Make a sale's stored valuations what `valued` says, touching only those that differ."""
        for period_id, row in current.items():
            new = valued.get(period_id)
            if new is None:
                await self._session.delete(row)
            elif (row.currency, Decimal(row.rate), row.counted_minor) != (
                new.currency,
                new.rate,
                new.counted_minor,
            ):
                row.currency, row.rate, row.counted_minor = (
                    new.currency,
                    str(new.rate),
                    new.counted_minor,
                )
                row.valued_at = at
                self._session.add(row)
        for period_id, new in valued.items():
            if period_id not in current:
                self._session.add(
                    SaleValuation.model_validate(
                        {
                            "sale_id": sale.id,
                            "period_id": period_id,
                            "org_id": sale.org_id,
                            "currency": new.currency,
                            "rate": str(new.rate),
                            "counted_minor": new.counted_minor,
                            "valued_at": at,
                        }
                    )
                )

    async def drop_period_valuations(self, *, period_id: uuid.UUID) -> None:
        """Forget every valuation of a period (its bounds changed: they are rebuilt)."""
        await self._session.execute(
            sa.delete(SaleValuation).where(col(SaleValuation.period_id) == period_id)
        )

    def record_change(self, row: Mapping[str, object]) -> FxRateChange:
        """Stage an audit record of one rate change."""
        change = FxRateChange.model_validate(row)
        self._session.add(change)
        return change

    async def changes(
        self, *, period_id: uuid.UUID, limit: int
    ) -> list[tuple[FxRateChange, list[SaleRevaluation]]]:
        """A period's newest rate changes, each with the sales it re-valued."""
        rows = await self._session.exec(
            select(FxRateChange)
            .where(FxRateChange.period_id == period_id)
            .order_by(
                col(FxRateChange.changed_at).desc(),
                col(FxRateChange.into_currency),
                col(FxRateChange.from_currency),
            )
            .limit(limit)
        )
        changes = list(rows.all())
        revalued: dict[uuid.UUID, list[SaleRevaluation]] = {c.id: [] for c in changes}
        if changes:
            found = await self._session.exec(
                select(SaleRevaluation)
                .where(col(SaleRevaluation.change_id).in_(list(revalued)))
                .order_by(col(SaleRevaluation.sale_id))
            )
            for row in found.all():
                revalued[row.change_id].append(row)
        return [(c, revalued[c.id]) for c in changes]
