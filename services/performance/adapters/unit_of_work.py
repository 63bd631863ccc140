"""The performance unit of work: one transaction, its repositories, and the outbox."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.performance.adapters.batch_repository import BatchRepository
from services.performance.adapters.delivery_repository import DeliveryRepository
from services.performance.adapters.fx_repository import FxRepository
from services.performance.adapters.health_repository import HealthRepository
from services.performance.adapters.import_repository import ImportRepository
from services.performance.adapters.orm import Attainment, Sale, SaleCredit
from services.performance.adapters.repository import PerformanceRepository
from shared.secrets import SecretBox
from shared.uow import UnitOfWork


class PerformanceUnitOfWork(UnitOfWork):
    """Unit of work with the performance repositories."""

    repo: PerformanceRepository
    deliveries: DeliveryRepository
    fx: FxRepository
    health: HealthRepository
    batch: BatchRepository
    imports: ImportRepository

    def __init__(self, *args: Any, secrets: SecretBox | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Seals webhook secrets and CRM tokens before they are stored, opens them for use.
        self.secrets = secrets or SecretBox([])

    def open_repositories(self, session: AsyncSession) -> None:
        """Bind this service's repositories to the session."""
        self.repo = PerformanceRepository(session)
        self.deliveries = DeliveryRepository(session)
        self.fx = FxRepository(session)
        self.health = HealthRepository(session)
        self.batch = BatchRepository(session)
        self.imports = ImportRepository(session)

    def forget_loaded_sales(self) -> None:
        """Detach loaded sales, credits and attainment, so the next read sees bulk writes."""
        stale = (Sale, SaleCredit, Attainment)
        for row in [r for r in self.session.identity_map.values() if isinstance(r, stale)]:
            self.session.expunge(row)

    @contextlib.asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """Undo the block's writes and its queued events when it raises; the rest carries on."""
        queued = len(self._pending)
        nested = await self.session.begin_nested()
        try:
            yield
        except BaseException:
            await nested.rollback()
            del self._pending[queued:]
            # Members remembered inside the block may hold rolled-back state.
            self.repo = PerformanceRepository(self.session)
            raise
        await nested.commit()
