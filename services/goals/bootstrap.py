"""Composition root of the goals service: the one place that wires infrastructure."""

from __future__ import annotations

from services.goals.adapters.orm import metadata, plumbing
from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from services.goals.config import Settings
from shared.runtime import ServiceRuntime


def build_runtime(settings: Settings) -> ServiceRuntime:
    """Build the runtime (database, outbox relay, consumer, jobs) of one process."""
    return ServiceRuntime(
        settings=settings,
        metadata=metadata,
        plumbing=plumbing,
        uow_class=GoalsUnitOfWork,
    )
