"""The feedback unit of work: one transaction, its repositories, and the outbox."""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.feedback.adapters.competitors import CompetitorRepository
from services.feedback.adapters.repository import (
    CoachingRepository,
    DirectoryRepository,
    DisputeRepository,
    FeedbackRepository,
    IntelRepository,
    MeetingRepository,
    SubscriptionRepository,
    intel_repository,
)
from shared.secrets import SecretBox
from shared.uow import UnitOfWork


class FeedbackUnitOfWork(UnitOfWork):
    """Unit of work with the feedback repositories."""

    directory: DirectoryRepository
    disputes: DisputeRepository
    feedback: FeedbackRepository
    meetings: MeetingRepository
    intel: IntelRepository
    coaching: CoachingRepository
    subscriptions: SubscriptionRepository
    competitors: CompetitorRepository

    def __init__(self, *args: Any, secrets: SecretBox | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Seals subscription signing secrets before they are stored, opens them to sign.
        self.secrets = secrets or SecretBox([])

    def open_repositories(self, session: AsyncSession) -> None:
        """Bind this service's repositories to the session."""
        self.directory = DirectoryRepository(session)
        self.disputes = DisputeRepository(session)
        self.feedback = FeedbackRepository(session)
        self.meetings = MeetingRepository(session)
        self.intel = intel_repository(session)
        self.coaching = CoachingRepository(session)
        self.subscriptions = SubscriptionRepository(session)
        self.competitors = CompetitorRepository(session)

    async def commit(self) -> None:
        """Commit state, outbox rows and the outbound deliveries of this service's public facts."""
        # Queued in the same transaction as the fact itself: a subscriber never hears of a
        # decision that was rolled back, and never misses one that committed.
        for envelope in self._pending:
            await self.subscriptions.queue_deliveries(envelope)
        await super().commit()
