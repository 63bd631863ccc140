"""The goals unit of work: one transaction, its repositories, and the outbox."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from services.goals.adapters.repository import GoalsRepository
from shared.uow import UnitOfWork


class GoalsUnitOfWork(UnitOfWork):
    """Unit of work with the goals repositories."""

    repo: GoalsRepository

    def open_repositories(self, session: AsyncSession) -> None:
        """Bind this service's repositories to the session."""
        self.repo = GoalsRepository(session)
