"""The delivery processor's batch: parse stored deliveries, apply each change once, mark them.

A batch is read, parsed and (HubSpot) fetched outside any transaction, so no network call holds
the writer. Then one transaction locks the batch, dedupes all its changes in one query, and
applies each delivery inside a SAVEPOINT: one that fails is marked ``failed`` alone.
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
from services.performance.handlers.lost_deals import apply_lost_deal
from services.performance.handlers.sales import apply_deal_event
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
        keys = {(d.org_id, e.source, e.dedupe_key) for d in rows for e in parsed[d.id].events or ()}
        seen = await uow.deliveries.applied_keys(keys)
        for delivery in rows:
            await _settle(uow, delivery, parsed[delivery.id], seen, now, retry)
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


async def _settle(
    uow: PerformanceUnitOfWork,
    delivery: WebhookDelivery,
    parsed: _Parsed,
    seen: set[tuple[uuid.UUID, str, str]],
    now: datetime,
    retry: FetchRetry,
) -> None:
    """Apply one delivery of the batch and mark it; a failure rolls back only its own writes."""
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
    if parsed.malformed is not None:
        _finish(uow, delivery, "malformed", now, error=parsed.malformed)
        return
    applied = duplicates = 0
    claimed: list[tuple[uuid.UUID, str, str]] = []
    try:
        async with uow.savepoint():
            for event in parsed.events or ():
                key = (delivery.org_id, event.source, event.dedupe_key)
                if key in seen:
                    duplicates += 1
                    continue
                await uow.deliveries.claim(_claim_row(delivery, event, now))
                seen.add(key)
                claimed.append(key)
                apply = apply_lost_deal if event.kind == "lost" else apply_deal_event
                await apply(uow, org_id=delivery.org_id, event=event, now=now)
                applied += 1
    except MalformedWebhook as error:
        # E.g. an amount beyond the currency's maximum: a retry cannot help.
        seen.difference_update(claimed)
        _finish(uow, delivery, "malformed", now, error=error.detail)
        return
    except Exception as error:
        seen.difference_update(claimed)
        log.exception("webhook delivery %s failed to apply", delivery.id)
        _finish(uow, delivery, "failed", now, error=f"{type(error).__name__}: {error}")
        return
    delivery.applied, delivery.duplicates = applied, duplicates
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


def _claim_row(delivery: WebhookDelivery, event: DealEvent, now: datetime) -> dict[str, object]:
    return {
        "id": uuid.uuid4(),
        "org_id": delivery.org_id,
        "source": event.source,
        "dedupe_key": event.dedupe_key,
        "delivery_id": delivery.id,
        "external_id": event.external_id,
        "kind": event.kind,
        "applied_at": now,
    }


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
