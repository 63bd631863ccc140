"""The feedback unit of work: one transaction, its repositories, and the outbox."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from services.feedback.adapters.repository import (
    CoachingRepository,
    DirectoryRepository,
    DisputeRepository,
    FeedbackRepository,
    IntelRepository,
    MeetingRepository,
    intel_repository,
)
from shared.uow import UnitOfWork


class FeedbackUnitOfWork(UnitOfWork):
    """Unit of work with the feedback repositories."""

    directory: DirectoryRepository
    disputes: DisputeRepository
    feedback: FeedbackRepository
    meetings: MeetingRepository
    intel: IntelRepository
    coaching: CoachingRepository

    def open_repositories(self, session: AsyncSession) -> None:
        """Bind this service's repositories to the session."""
        self.directory = DirectoryRepository(session)
        self.disputes = DisputeRepository(session)
        self.feedback = FeedbackRepository(session)
        self.meetings = MeetingRepository(session)
        self.intel = intel_repository(session)
        self.coaching = CoachingRepository(session)
