"""Composition root of the performance service: the one place that wires infrastructure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from services.performance.adapters.orm import metadata, plumbing
from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from services.performance.config import Settings
from services.performance.handlers import events, jobs
from shared.events import feedback, goals
from shared.runtime import PeriodicJob, ServiceRuntime
from shared.secrets import SecretBox


def system_clock() -> datetime:
    """The current instant in UTC."""
    return datetime.now(UTC)


class PerformanceRuntime(ServiceRuntime):
    """The shared runtime plus a replaceable clock and the HTTP client used to call CRMs."""

    settings: Settings

    def __init__(self, *, settings: Settings, **kwargs: object) -> None:
        super().__init__(settings=settings, **kwargs)  # type: ignore[arg-type]
        # Tests freeze time here (signature vectors are only valid at their timestamp).
        self.clock: Callable[[], datetime] = system_clock
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        """A pooled client for CRM APIs, created on first use, with a bounded timeout."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.settings.hubspot_timeout_s)
        return self._http

    async def stop(self) -> None:
        """Close the CRM client, then the shared infrastructure."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        await super().stop()


def build_runtime(settings: Settings) -> PerformanceRuntime:
    """Build the runtime (database, outbox relay, consumer, jobs) of one process."""
    return PerformanceRuntime(
        settings=settings,
        metadata=metadata,
        plumbing=plumbing,
        uow_class=PerformanceUnitOfWork,
        uow_options={"secrets": SecretBox(settings.secrets_key_list())},
        handlers={
            goals.TeamCreated: events.on_team_created,
            goals.TeamUpdated: events.on_team_updated,
            goals.MemberJoined: events.on_member_joined,
            goals.MemberUpdated: events.on_member_updated,
            goals.MemberLeft: events.on_member_left,
            goals.PeriodDefined: events.on_period_defined,
            goals.TargetAssigned: events.on_target_assigned,
            goals.TargetChanged: events.on_target_changed,
            goals.AbsenceRecorded: events.on_absence_recorded,
            goals.AbsenceCancelled: events.on_absence_cancelled,
            feedback.DisputeResolved: events.on_dispute_resolved,
        },
        jobs=(
            PeriodicJob("evaluate-settled", settings.evaluation_due_tick_s, jobs.evaluate_settled),
            PeriodicJob(
                "evaluate-pace", settings.evaluation_interval_s, jobs.evaluate_open_periods
            ),
            PeriodicJob(
                "close-periods", settings.period_close_interval_s, jobs.close_ended_periods
            ),
            PeriodicJob(
                "purge-webhook-rejections",
                settings.webhook_rejection_purge_interval_s,
                jobs.purge_webhook_rejections,
            ),
        ),
    )
