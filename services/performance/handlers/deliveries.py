"""The delivery processor's batch: parse stored deliveries, apply each change once, mark them.

A batch is read, parsed and (HubSpot) fetched outside any transaction, so no network call holds
the writer. Then one transaction locks the batch and applies all its changes set-based
(``deal_batch``): one that fails is marked ``failed`` alone, the rest commit.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.performance.adapters.crm.base import DealEvent, MalformedWebhook
from services.performance.adapters.crm.hubspot import HubSpotApiError, StageMap
from services.performance.adapters.crm.registry import CrmAdapter, DealSource, Delivery
from services.performance.adapters.orm import WebhookDelivery
from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from services.performance.handlers.crm_settings import stage_maps
from services.performance.handlers.deal_batch import Item, Outcome, apply_items
from shared.domain_errors import Conflict, NotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetchRetry:
    """How a HubSpot fetch that failed is retried: doubling waits, then ``failed``."""

    attempts: int = 5
    backoff_s: float = 2.0

    def wait(self, attempt: int) -> timedelta:
        """The wait after the ``attempt``-th failure."""
        return timedelta(seconds=self.backoff_s * 2 ** (attempt - 1))


@dataclass
class _Parsed:
    """What phase one learned of a delivery: its events, or why it cannot be applied."""

    events: list[DealEvent] | None = None
    malformed: str | None = None
    fetch_error: str | None = None


async def process_batch(
    *,
    uow_factory: Callable[[], PerformanceUnitOfWork],
    adapters: Mapping[str, CrmAdapter],
    deals: DealSource,
    now: datetime,
    limit: int,
    retry: FetchRetry | None = None,
) -> int:
    """Apply up to ``limit`` stored deliveries in arrival order; return how many were taken."""
    retry = retry or FetchRetry()
    async with uow_factory() as uow:
        batch = await uow.deliveries.pending(now=now, limit=limit)
        hubspot_orgs = {d.org_id for d in batch if d.source == "hubspot"}
        tokens = await _hubspot_tokens(uow, hubspot_orgs, now)
        stages = await stage_maps(uow, hubspot_orgs)
    if not batch:
        return 0
    parsed = {d.id: await _parse(d, adapters, deals, tokens, stages) for d in batch}
    async with uow_factory() as uow:
        if not await uow.deliveries.hold_processor():
            return 0  # another replica is applying a batch; ours waits for the next round
        rows = await uow.deliveries.lock([d.id for d in batch])
        ready = [d for d in rows if parsed[d.id].events is not None]
        items = [Item(org_id=d.org_id, ref=d.id, events=parsed[d.id].events or ()) for d in ready]
        applied = await apply_items(uow, items, now=now)
        outcomes = dict(zip([d.id for d in ready], applied, strict=True))
        for delivery in rows:
            _settle(uow, delivery, parsed[delivery.id], outcomes.get(delivery.id), now, retry)
        await uow.commit()
    return len(rows)


async def _hubspot_tokens(
    uow: PerformanceUnitOfWork, org_ids: set[uuid.UUID], now: datetime
) -> dict[uuid.UUID, str | None]:
    tokens: dict[uuid.UUID, str | None] = {}
    for org_id in org_ids:
        rows = await uow.repo.active_secrets(org_id=org_id, source="hubspot", now=now)
        stored = next((r.api_token for r in rows if r.api_token), None)
        tokens[org_id] = uow.secrets.open(stored) if stored else None
    return tokens


async def _parse(
    row: WebhookDelivery,
    adapters: Mapping[str, CrmAdapter],
    deals: DealSource,
    tokens: Mapping[uuid.UUID, str | None],
    stages: Mapping[uuid.UUID, StageMap | None],
) -> _Parsed:
    delivery = Delivery(
        org_id=row.org_id,
        source=row.source,
        body=row.body,
        headers=row.headers,
        url="",
        api_token=tokens.get(row.org_id),
        hubspot_stages=stages.get(row.org_id),
    )
    try:
        return _Parsed(events=await adapters[row.source].events(delivery, deals=deals))
    except MalformedWebhook as error:
        return _Parsed(malformed=error.detail)
    except HubSpotApiError as error:
        if not error.retryable:
            return _Parsed(malformed=error.detail)
        return _Parsed(fetch_error=error.detail)


def _settle(
    uow: PerformanceUnitOfWork,
    delivery: WebhookDelivery,
    parsed: _Parsed,
    outcome: Outcome | None,
    now: datetime,
    retry: FetchRetry,
) -> None:
    """Mark one delivery of the batch with what became of it."""
    if parsed.fetch_error is not None:
        delivery.attempts += 1
        delivery.error = parsed.fetch_error[:2000]
        if delivery.attempts >= retry.attempts:
            delivery.outcome = "failed"
        else:
            delivery.outcome = "fetching"
            delivery.next_attempt_at = now + retry.wait(delivery.attempts)
        uow.repo.add(delivery)
        return
    if parsed.malformed is not None or outcome is None:
        _finish(uow, delivery, "malformed", now, error=parsed.malformed)
    elif outcome.malformed is not None:
        _finish(uow, delivery, "malformed", now, error=outcome.malformed)
    elif outcome.failed is not None:
        _finish(uow, delivery, "failed", now, error=outcome.failed)
    else:
        delivery.applied, delivery.duplicates = outcome.applied, outcome.duplicates
        _finish(uow, delivery, "processed", now)


def _finish(
    uow: PerformanceUnitOfWork,
    delivery: WebhookDelivery,
    outcome: str,
    now: datetime,
    *,
    error: str | None = None,
) -> None:
    delivery.outcome = outcome
    delivery.error = error[:2000] if error else None
    delivery.processed_at = now
    delivery.next_attempt_at = None
    uow.repo.add(delivery)


# -- the admin's view -------------------------------------------------------------------------


async def list_deliveries(
    *,
    uow: PerformanceUnitOfWork,
    org_id: uuid.UUID,
    source: str | None,
    outcome: str | None,
    cursor: str | None,
    limit: int,
) -> list[WebhookDelivery]:
    """Deliveries of the org in arrival order (one row more than ``limit``)."""
    async with uow:
        return await uow.deliveries.page(
            org_id=org_id, source=source, outcome=outcome, cursor=cursor, limit=limit
        )


async def get_delivery(
    *, uow: PerformanceUnitOfWork, org_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery:
    """One delivery of the org."""
    async with uow:
        delivery = await uow.deliveries.get(org_id=org_id, delivery_id=delivery_id)
    if delivery is None:
        raise NotFound("no such webhook delivery")
    return delivery


async def reprocess_delivery(
    *, uow: PerformanceUnitOfWork, org_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery:
    """Queue a failed delivery again; the processor applies what it has not applied yet."""
    async with uow:
        delivery = await uow.deliveries.get(org_id=org_id, delivery_id=delivery_id)
        if delivery is None:
            raise NotFound("no such webhook delivery")
        if delivery.outcome != "failed":
            raise Conflict(
                f"only a failed delivery can be reprocessed; this one is {delivery.outcome}",
                outcome=delivery.outcome,
            )
        delivery.outcome, delivery.error = "received", None
        delivery.attempts, delivery.next_attempt_at, delivery.processed_at = 0, None, None
        uow.repo.add(delivery)
        await uow.commit()
    return delivery
