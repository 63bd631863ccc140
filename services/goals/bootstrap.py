"""Composition root of the goals service: the one place that wires infrastructure."""

from __future__ import annotations

from services.goals.adapters.orm import metadata, plumbing
from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from services.goals.config import Settings
from services.goals.handlers.events import (
    on_attainment_changed,
    on_conversation_held,
    on_dispute_resolved,
    on_period_closed,
    on_thresholds_changed,
)
from services.goals.handlers.give_back import on_shortfall_recovered
from services.goals.handlers.jobs import settle_expired_offers
from services.goals.handlers.shortfalls import on_shortfall_detected, on_team_shortfalls_detected
from shared.events.feedback import ConversationHeld, DisputeResolved
from shared.events.performance import (
    AttainmentChanged,
    PeriodClosed,
    ShortfallDetected,
    ShortfallRecovered,
    TeamShortfallsDetected,
    ThresholdsChanged,
)
from shared.runtime import PeriodicJob, ServiceRuntime


def build_runtime(settings: Settings) -> ServiceRuntime[GoalsUnitOfWork]:
    """Build the runtime (database, outbox relay, consumer, jobs) of one process."""
    return ServiceRuntime(
        settings=settings,
        metadata=metadata,
        plumbing=plumbing,
        uow_class=GoalsUnitOfWork,
        handlers={
            TeamShortfallsDetected: on_team_shortfalls_detected,
            ShortfallRecovered: on_shortfall_recovered,
            # Still accepted until no producer emits it (performance stopped with this release).
            ShortfallDetected: on_shortfall_detected,
            DisputeResolved: on_dispute_resolved,
            ConversationHeld: on_conversation_held,
            PeriodClosed: on_period_closed,
            AttainmentChanged: on_attainment_changed,
            ThresholdsChanged: on_thresholds_changed,
        },
        jobs=(
            PeriodicJob(
                name="settle-expired-offers",
                interval_s=settings.offer_sweep_interval_s,
                run=settle_expired_offers,
            ),
        ),
    )
