"""Periodic jobs of the goals service."""

from __future__ import annotations

from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from services.goals.handlers.offers import settle_expired_rounds
from shared.runtime import ServiceRuntime


async def settle_expired_offers(runtime: ServiceRuntime[GoalsUnitOfWork]) -> int:
    """Settle the offer rounds that expired, over the room their reps accepted."""
    return await settle_expired_rounds(uow_factory=runtime.uow)
