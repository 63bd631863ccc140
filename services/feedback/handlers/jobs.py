"""Periodic jobs of the feedback service."""

from __future__ import annotations

from services.feedback.adapters.unit_of_work import FeedbackUnitOfWork
from services.feedback.handlers.coaching import announce_overdue_action_items
from services.feedback.handlers.dispute_deadlines import announce_overdue_disputes
from services.feedback.handlers.disputes import close_expired_disputes
from services.feedback.handlers.subscriptions import deliver_due, policy_from
from shared.runtime import ServiceRuntime


async def close_expired(runtime: ServiceRuntime[FeedbackUnitOfWork]) -> int:
    """Close decided disputes whose response window has run out; announce passed deadlines."""
    hours = getattr(runtime.settings, "dispute_response_window_hours", 168.0)
    closed = await close_expired_disputes(uow_factory=runtime.uow, window_hours=hours)
    return closed + await announce_overdue_disputes(uow_factory=runtime.uow)


async def overdue_action_items(runtime: ServiceRuntime[FeedbackUnitOfWork]) -> int:
    """Announce open action items whose due date has passed."""
    return await announce_overdue_action_items(uow_factory=runtime.uow)


async def deliver_webhooks(runtime: ServiceRuntime[FeedbackUnitOfWork]) -> int:
    """Send the outbound webhooks that are due (first attempts and retries)."""
    return await deliver_due(
        uow_factory=runtime.uow,
        policy=policy_from(runtime.settings),
    )
