"""Deals won and lost against competitors: the read model fed by performance's sale facts."""

from __future__ import annotations

from uuid import UUID

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.feedback.adapters.orm import CompetitorDeal


class CompetitorRepository:
    """One row per sale that was ever won or lost against a named competitor."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, *, org_id: UUID, sale_id: UUID) -> CompetitorDeal | None:
        """The sale's row in this organisation, if it has one."""
        row = await self._session.get(CompetitorDeal, sale_id)
        return row if row is not None and row.org_id == org_id else None

    def put(self, row: CompetitorDeal) -> None:
        """Stage a new or changed row."""
        self._session.add(row)

    async def for_team(
        self, *, org_id: UUID, team_id: UUID, period_id: UUID | None
    ) -> list[CompetitorDeal]:
        """The team's deals won or lost against a competitor, in one period when given."""
        stmt = select(CompetitorDeal).where(
            CompetitorDeal.org_id == org_id,
            CompetitorDeal.team_id == team_id,
            CompetitorDeal.outcome != "none",
        )
        if period_id is not None:
            stmt = stmt.where(CompetitorDeal.period_id == period_id)
        return list((await self._session.exec(stmt)).all())
