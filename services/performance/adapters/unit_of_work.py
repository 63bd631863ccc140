"""The performance unit of work: one transaction, its repositories, and the outbox."""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.performance.adapters.repository import PerformanceRepository
from shared.secrets import SecretBox
from shared.uow import UnitOfWork


class PerformanceUnitOfWork(UnitOfWork):
    """Unit of work with the performance repositories."""

    repo: PerformanceRepository

    def __init__(self, *args: Any, secrets: SecretBox | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Seals webhook secrets and CRM tokens before they are stored, opens them for use.
        self.secrets = secrets or SecretBox([])

    def open_repositories(self, session: AsyncSession) -> None:
        """Bind this service's repositories to the session."""
        self.repo = PerformanceRepository(session)
