"""Composition root of the performance service: the one place that wires infrastructure."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.performance.adapters.crm.registry import ADAPTERS, CrmAdapter, hubspot_deals
from services.performance.adapters.delivery_writer import DeliveryWriter
from services.performance.adapters.orm import WebhookDelivery, metadata, plumbing
from services.performance.adapters.secret_cache import SecretCache
from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from services.performance.config import Settings
from services.performance.handlers import events, jobs
from services.performance.handlers.deliveries import FetchRetry, process_batch
from services.performance.handlers.imports import process_import_batch
from services.performance.processor import DeliveryProcessor, listen, notify_statement
from shared.consumer import Handler
from shared.db import PlumbingTables
from shared.events import Event, feedback, goals
from shared.runtime import PeriodicJob, ServiceRuntime
from shared.secrets import SecretBox


class PerformanceRuntime(ServiceRuntime[PerformanceUnitOfWork]):
    """The shared runtime plus the CRM adapters and the webhook delivery pipeline."""

    settings: Settings

    def __init__(
        self,
        *,
        settings: Settings,
        metadata: sa.MetaData,
        plumbing: PlumbingTables,
        uow_class: type[PerformanceUnitOfWork],
        uow_options: Mapping[str, Any],
        handlers: Mapping[type[Event], Handler],
        jobs: tuple[PeriodicJob[PerformanceRuntime], ...],
    ) -> None:
        super().__init__(
            settings=settings,
            metadata=metadata,
            plumbing=plumbing,
            uow_class=uow_class,
            uow_options=uow_options,
            handlers=handlers,
            jobs=jobs,
        )
        self._http: httpx.AsyncClient | None = None
        token = settings.hubspot_private_app_token
        self.adapters: Mapping[str, CrmAdapter] = ADAPTERS
        self.deals = hubspot_deals(
            lambda: self.http,
            base_url=lambda: self.settings.hubspot_api_base_url,
            default_token=token.get_secret_value() if token else None,
        )
        self.processor = DeliveryProcessor(
            run_batch=self.process_deliveries,
            poll_s=settings.webhook_poll_s,
            full_batch=settings.webhook_batch_size,
            linger_s=settings.webhook_processor_linger_ms / 1000,
        )
        self.delivery_writer = DeliveryWriter(
            engine=self.engine,
            table=WebhookDelivery.__table__,
            max_rows=settings.webhook_group_commit_rows,
            max_wait_s=settings.webhook_group_commit_ms / 1000,
            on_commit=self.processor.wake,
            notify=notify_statement(self.engine),
        )
        self.secret_cache = SecretCache(
            # The read pool: a reload must not queue behind the writer every delivery waits on.
            lambda: self.uow(read_only=True),
            ttl_s=settings.webhook_secret_cache_s,
        )
        self._processor_task: asyncio.Task[None] | None = None
        self._listener: AsyncConnection | None = None

    async def process_deliveries(self) -> int:
        """Apply one batch of stored deliveries, else of an import's rows; how many were taken."""
        taken = await process_batch(
            uow_factory=self.uow,
            adapters=self.adapters,
            deals=self.deals,
            now=self.clock(),
            limit=self.settings.webhook_batch_size,
            retry=FetchRetry(
                attempts=self.settings.hubspot_fetch_attempts,
                backoff_s=self.settings.hubspot_fetch_backoff_s,
            ),
        )
        if taken:
            return taken  # live webhooks first; an import fills the quiet in between
        return await process_import_batch(
            uow_factory=self.uow,
            now=self.clock(),
            limit=self.settings.import_batch_size,
        )

    async def start_workers(self) -> None:
        """Start the shared workers, then the delivery processor."""
        await super().start_workers()
        self._listener = await listen(self.engine, self.processor.wake)
        self._processor_task = asyncio.create_task(self.processor.run(), name="deliveries")

    @property
    def http(self) -> httpx.AsyncClient:
        """A pooled client for CRM APIs, created on first use, with a bounded timeout."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.settings.hubspot_timeout_s)
        return self._http

    async def stop(self) -> None:
        """Flush stored deliveries, finish the batch in flight, close the CRM client and the rest."""
        await self.delivery_writer.close()
        self.processor.stop()
        if self._processor_task is not None:
            # The batch in flight commits or rolls back; what it did not take stays stored.
            done, _ = await asyncio.wait({self._processor_task}, timeout=5)
            if not done:
                self._processor_task.cancel()
                with contextlib.suppress(BaseException):
                    await self._processor_task
            self._processor_task = None
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None
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
