"""Composition root of the feedback service: the one place that wires infrastructure."""

from __future__ import annotations

from services.feedback.adapters.orm import metadata, plumbing
from services.feedback.adapters.unit_of_work import FeedbackUnitOfWork
from services.feedback.config import Settings
from shared.runtime import ServiceRuntime


def build_runtime(settings: Settings) -> ServiceRuntime:
    """Build the runtime (database, outbox relay, consumer, jobs) of one process."""
    return ServiceRuntime(
        settings=settings,
        metadata=metadata,
        plumbing=plumbing,
        uow_class=FeedbackUnitOfWork,
    )
