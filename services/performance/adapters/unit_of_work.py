"""The performance unit of work: one transaction, its repositories, and the outbox."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from services.performance.adapters.repository import PerformanceRepository
from shared.uow import UnitOfWork


class PerformanceUnitOfWork(UnitOfWork):
    """Unit of work with the performance repositories."""

    repo: PerformanceRepository

    def open_repositories(self, session: AsyncSession) -> None:
        """Bind this service's repositories to the session."""
        self.repo = PerformanceRepository(session)
