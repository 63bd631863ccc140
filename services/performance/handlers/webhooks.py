"""Webhook intake: verify, store verified deliveries, apply each CRM change exactly once.

Anyone can call these routes, so a refused delivery is never stored whole: it leaves a bounded
audit record (size, SHA-256, the first bytes, headers without credentials), and none past a cap.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from services.performance.adapters.crm import generic, hubspot, pipedrive, salesforce
from services.performance.adapters.crm.base import DealEvent, MalformedWebhook, WebhookRejected
from services.performance.adapters.orm import WebhookDelivery, WebhookRejection, WebhookSecret
from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from services.performance.handlers.sales import apply_deal_event
from shared.domain_errors import DomainError, InvalidInput

log = logging.getLogger(__name__)

SOURCES = ("generic", "hubspot", "pipedrive", "salesforce")
_ADAPTERS = {
    "generic": generic,
    "hubspot": hubspot,
    "pipedrive": pipedrive,
    "salesforce": salesforce,
}
#: Headers worth keeping with a stored delivery; credentials are never stored.
_SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie", "x-api-key"}
#: An audit record keeps this many headers at most, each name and value cut to these lengths.
_AUDIT_HEADERS, _AUDIT_NAME, _AUDIT_VALUE = 32, 64, 192

DealFetcher = Callable[[str, str], Awaitable[hubspot.HubSpotDeal]]
"""(private-app token, deal id) -> the deal as HubSpot has it now."""


class CrmUnavailable(DomainError):
    """The delivery is stored but could not be processed now; the CRM should retry."""

    status = 503
    title = "CRM unavailable"


@dataclass(frozen=True)
class IngestWebhook:
    """One delivery exactly as it arrived."""

    org_id: uuid.UUID
    source: str
    body: bytes
    headers: Mapping[str, str]
    url: str


@dataclass(frozen=True)
class IntakeLimits:
    """How much a refused delivery may leave behind."""

    head_bytes: int = 2048
    max_rejections: int = 5000


RejectionSink = Callable[[str, str, bool], None]
"""(source, reason, recorded) for each refused delivery: where metrics count them."""


@dataclass(frozen=True)
class IngestResult:
    """What a delivery did."""

    delivery_id: uuid.UUID
    applied: int
    duplicates: int


@dataclass(frozen=True)
class RotateSecret:
    """Make a new secret active; the previous ones stay valid for an overlap window."""

    source: str
    secret: str
    overlap_seconds: int | None = None
    api_token: str | None = None


@dataclass(frozen=True)
class RotationResult:
    """The new secret's id and until when the previous ones are accepted."""

    secret_id: uuid.UUID
    source: str
    active_since: datetime
    previous_valid_until: datetime | None


async def ingest_webhook(
    cmd: IngestWebhook,
    *,
    uow_factory: Callable[[], PerformanceUnitOfWork],
    now: datetime,
    fetch_deal: DealFetcher,
    default_hubspot_token: str | None,
    limits: IntakeLimits | None = None,
    on_rejected: RejectionSink | None = None,
) -> IngestResult:
    """Verify, store and apply a delivery; a refused one leaves only a bounded audit record."""
    limits = limits or IntakeLimits()
    delivery_id = uuid.uuid4()
    reason, recorded = "", False
    async with uow_factory() as uow:
        rows = await uow.repo.active_secrets(org_id=cmd.org_id, source=cmd.source, now=now)
        secrets = [
            _Opened(uow.secrets.open(r.secret), _open_optional(uow, r.api_token)) for r in rows
        ]
        # No secret: nothing can verify it, so its body is not even looked at.
        rejection = (
            _verification_error(cmd, secrets, now)
            if secrets
            else WebhookRejected("no webhook secret is configured for this source")
        )
        if rejection is None:
            # Committed on its own before anything else (HubSpot's call-back included).
            uow.repo.add(_delivery_row(cmd, delivery_id, now, verified=True))
        else:
            reason = _reason_of(rejection, has_secret=bool(secrets))
            recorded = await _record_rejection(uow, cmd, rejection, reason, now, limits)
        await uow.commit()
    if rejection is not None:
        if on_rejected is not None:
            on_rejected(cmd.source, reason, recorded)
        raise rejection
    token = next((s.api_token for s in secrets if s.api_token), None) or default_hubspot_token
    try:
        events = await _events_of(cmd, fetch_deal=fetch_deal, token=token)
    except MalformedWebhook as error:
        await _mark(uow_factory, delivery_id, "malformed", error.detail)
        raise
    except hubspot.HubSpotApiError as error:
        await _mark(uow_factory, delivery_id, "failed", error.detail)
        # Nothing was applied, so HubSpot's retry (it retries 5xx, not 4xx) is safe and useful.
        raise CrmUnavailable(error.detail, retryable=True) from None
    for attempt in (1, 2):
        try:
            async with uow_factory() as uow:
                return await _apply(uow, cmd, delivery_id, events, now)
        except (IntegrityError, StaleDataError):
            # Two deliveries created or changed the same sale at once (nothing of this one was
            # applied); the retry reads the winner's sale and applies this change on top.
            if attempt == 2:
                raise
        except MalformedWebhook as error:
            # E.g. an amount beyond the currency's maximum: nothing applied, and a retry cannot help.
            await _mark(uow_factory, delivery_id, "malformed", error.detail)
            raise
    raise AssertionError("unreachable")


async def _events_of(
    cmd: IngestWebhook, *, fetch_deal: DealFetcher, token: str | None
) -> list[DealEvent]:
    """The changes a delivery carries; HubSpot sends ids, so its deals are fetched."""
    if cmd.source == "hubspot":
        return await _hubspot_events(cmd, fetch_deal=fetch_deal, token=token)
    return _parse(cmd)


@dataclass(frozen=True)
class _Opened:
    """A secret and its API token as plaintext, only in memory for one delivery."""

    secret: str
    api_token: str | None


def _open_optional(uow: PerformanceUnitOfWork, stored: str | None) -> str | None:
    return uow.secrets.open(stored) if stored else None


def _verification_error(
    cmd: IngestWebhook, secrets: list[_Opened], now: datetime
) -> WebhookRejected | MalformedWebhook | None:
    try:
        _ADAPTERS[cmd.source].verify(
            body=cmd.body,
            headers=cmd.headers,
            secrets=[s.secret for s in secrets],
            now=now,
            url=cmd.url,
        )
    except (WebhookRejected, MalformedWebhook) as error:  # Salesforce reads the XML to verify
        return error
    return None


def _reason_of(rejection: DomainError, *, has_secret: bool) -> str:
    if not has_secret:
        return "no_secret"
    return "malformed" if isinstance(rejection, MalformedWebhook) else "rejected"


async def _record_rejection(
    uow: PerformanceUnitOfWork,
    cmd: IngestWebhook,
    rejection: DomainError,
    reason: str,
    now: datetime,
    limits: IntakeLimits,
) -> bool:
    """Keep a bounded audit record of a refusal, unless the cap is reached; True when kept."""
    if await uow.repo.rejection_count() >= limits.max_rejections:
        return False
    kept = [
        (k.lower()[:_AUDIT_NAME], v[:_AUDIT_VALUE])
        for k, v in cmd.headers.items()
        if k.lower() not in _SECRET_HEADERS
    ]
    uow.repo.add(
        WebhookRejection.model_validate(
            {
                "org_id": cmd.org_id,
                "source": cmd.source,
                "received_at": now,
                "reason": reason,
                "error": rejection.detail[:500],
                "headers": dict(kept[:_AUDIT_HEADERS]),
                "body_size": len(cmd.body),
                "body_sha256": hashlib.sha256(cmd.body).hexdigest(),
                # No secret means no one may ever vouch for these bytes: keep none of them.
                "body_head": b"" if reason == "no_secret" else cmd.body[: limits.head_bytes],
            }
        )
    )
    return True


async def purge_rejections(
    *, uow: PerformanceUnitOfWork, now: datetime, retention: timedelta
) -> int:
    """Forget audit records of refused deliveries older than the retention."""
    async with uow:
        purged = await uow.repo.purge_rejections(before=now - retention)
        await uow.commit()
    return purged


def _delivery_row(
    cmd: IngestWebhook,
    delivery_id: uuid.UUID,
    now: datetime,
    *,
    verified: bool,
) -> WebhookDelivery:
    return WebhookDelivery.model_validate(
        {
            "id": delivery_id,
            "org_id": cmd.org_id,
            "source": cmd.source,
            "received_at": now,
            "headers": {
                k.lower(): v for k, v in cmd.headers.items() if k.lower() not in _SECRET_HEADERS
            },
            "body": cmd.body,
            "verified": verified,
            "outcome": "received",
            "error": None,
            "processed_at": None,
        }
    )


def _parse(cmd: IngestWebhook) -> list[DealEvent]:
    """The changes of a delivery that carries whole deals (every source but HubSpot)."""
    if cmd.source == "generic":
        message_id = {k.lower(): v for k, v in cmd.headers.items()}.get("webhook-id", "")
        return generic.parse(cmd.body, message_id=message_id)
    if cmd.source == "pipedrive":
        return pipedrive.parse(cmd.body)
    return salesforce.parse(cmd.body)


async def _hubspot_events(
    cmd: IngestWebhook, *, fetch_deal: DealFetcher, token: str | None
) -> list[DealEvent]:
    events = []
    for change in hubspot.parse(cmd.body):
        deal = None
        if change.needs_fetch:
            if not token:
                raise hubspot.HubSpotApiError(
                    "no HubSpot private-app token is configured", upstream_status=None
                )
            deal = await fetch_deal(token, change.object_id)
        events.append(hubspot.to_deal_event(change, deal))
    return events


async def _apply(
    uow: PerformanceUnitOfWork,
    cmd: IngestWebhook,
    delivery_id: uuid.UUID,
    events: list[DealEvent],
    now: datetime,
) -> IngestResult:
    """Apply each new change, mark the delivery processed and commit."""
    applied = duplicates = 0
    for event in events:
        fresh = await uow.repo.claim_webhook_event(
            {
                "id": uuid.uuid4(),
                "org_id": cmd.org_id,
                "source": event.source,
                "dedupe_key": event.dedupe_key,
                "delivery_id": delivery_id,
                "external_id": event.external_id,
                "kind": event.kind,
                "applied_at": now,
            }
        )
        if not fresh:
            duplicates += 1
            continue
        await apply_deal_event(uow, org_id=cmd.org_id, event=event, now=now)
        applied += 1
    delivery = await uow.session.get(WebhookDelivery, delivery_id)
    if delivery is not None:
        delivery.outcome = "processed"
        delivery.processed_at = now
        uow.repo.add(delivery)
    await uow.commit()
    return IngestResult(delivery_id=delivery_id, applied=applied, duplicates=duplicates)


async def _mark(
    uow_factory: Callable[[], PerformanceUnitOfWork],
    delivery_id: uuid.UUID,
    outcome: str,
    error: str,
) -> None:
    async with uow_factory() as uow:
        delivery = await uow.session.get(WebhookDelivery, delivery_id)
        if delivery is not None:
            delivery.outcome = outcome
            delivery.error = error[:2000]
            uow.repo.add(delivery)
            await uow.commit()


async def rotate_secret(
    cmd: RotateSecret,
    *,
    uow: PerformanceUnitOfWork,
    org_id: uuid.UUID,
    now: datetime,
    default_overlap_s: int,
) -> RotationResult:
    """Activate a new secret; earlier ones stay valid until now + overlap (never extended)."""
    _check_secret(cmd.source, cmd.secret)
    overlap = timedelta(
        seconds=default_overlap_s if cmd.overlap_seconds is None else cmd.overlap_seconds
    )
    until = now + overlap
    async with uow:
        previous = await uow.repo.active_secrets(org_id=org_id, source=cmd.source, now=now)
        for row in previous:
            row.valid_until = until
            uow.repo.add(row)
        row = WebhookSecret.model_validate(
            {
                "org_id": org_id,
                "source": cmd.source,
                "secret": uow.secrets.seal(cmd.secret),
                "api_token": uow.secrets.seal(cmd.api_token) if cmd.api_token else None,
                "created_at": now,
            }
        )
        uow.repo.add(row)
        await uow.commit()
    return RotationResult(
        secret_id=row.id,
        source=cmd.source,
        active_since=now,
        previous_valid_until=until if previous else None,
    )


def _check_secret(source: str, secret: str) -> None:
    """Refuse secrets the adapter could never use, so a typo fails now rather than per delivery."""
    try:
        if source == "generic":
            generic._secret_key(secret)
        elif source == "pipedrive":
            pipedrive._credentials(secret)
        elif source == "salesforce":
            salesforce.full_org_id(secret)
        elif not secret.strip():
            raise ValueError("the HubSpot client secret must not be empty")
    except ValueError as error:
        raise InvalidInput(str(error), field="secret") from None
