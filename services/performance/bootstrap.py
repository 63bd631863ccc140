"""Composition root of the performance service: the one place that wires infrastructure."""

from __future__ import annotations

from services.performance.adapters.orm import metadata, plumbing
from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from services.performance.config import Settings
from shared.runtime import ServiceRuntime


def build_runtime(settings: Settings) -> ServiceRuntime:
    """Build the runtime (database, outbox relay, consumer, jobs) of one process."""
    return ServiceRuntime(
        settings=settings,
        metadata=metadata,
        plumbing=plumbing,
        uow_class=PerformanceUnitOfWork,
    )
