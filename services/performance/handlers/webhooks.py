"""Webhook intake: verify on the raw bytes, store the delivery durably, acknowledge.

Nothing is parsed or applied here: the delivery processor (``handlers.deliveries``) does that.
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
from typing import Any, Protocol

from services.performance.adapters.crm.base import MalformedWebhook, WebhookRejected
from services.performance.adapters.crm.registry import CrmAdapter, Delivery
from services.performance.adapters.orm import WebhookRejection, WebhookSecret
from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from shared.domain_errors import DomainError, InvalidInput

log = logging.getLogger(__name__)

#: Headers worth keeping with a stored delivery; credentials are never stored.
_SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie", "x-api-key"}
#: An audit record keeps this many headers at most, each name and value cut to these lengths.
_AUDIT_HEADERS, _AUDIT_NAME, _AUDIT_VALUE = 32, 64, 192


class DeliveryStore(Protocol):
    """Where verified deliveries go: ``store`` returns once the row is committed."""

    def next_arrival(self) -> int: ...

    def store(self, row: dict[str, Any]) -> Awaitable[None]: ...


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


class SecretSource(Protocol):
    """The plaintext secrets of an (org, source) valid at an instant."""

    def __call__(
        self, *, org_id: uuid.UUID, source: str, now: datetime
    ) -> Awaitable[list[str]]: ...


RejectionSink = Callable[[str, str, bool], None]
"""(source, reason, recorded) for each refused delivery: where metrics count them."""


@dataclass(frozen=True)
class IngestResult:
    """The stored delivery; what it changes is known once the processor has taken it."""

    delivery_id: uuid.UUID


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
    adapters: Mapping[str, CrmAdapter],
    store: DeliveryStore,
    active_secrets: SecretSource,
    now: datetime,
    limits: IntakeLimits | None = None,
    on_rejected: RejectionSink | None = None,
) -> IngestResult:
    """Verify and durably store a delivery; a refused one leaves only a bounded audit record."""
    limits = limits or IntakeLimits()
    adapter = adapters[cmd.source]
    delivery = Delivery(
        org_id=cmd.org_id, source=cmd.source, body=cmd.body, headers=cmd.headers, url=cmd.url
    )
    secrets = await active_secrets(org_id=cmd.org_id, source=cmd.source, now=now)
    # No secret: nothing can verify it, so its body is not even looked at.
    rejection = (
        _verification_error(adapter, delivery, secrets, now)
        if secrets
        else WebhookRejected("no webhook secret is configured for this source")
    )
    if rejection is not None:
        reason = _reason_of(rejection, has_secret=bool(secrets))
        async with uow_factory() as uow:
            recorded = await _record_rejection(uow, cmd, rejection, reason, now, limits)
            if secrets:  # only a connection that exists is counted: made-up org ids add no rows
                await uow.health.count_refusal(_refusal_row(cmd, reason, rejection, now))
            await uow.commit()
        if on_rejected is not None:
            on_rejected(cmd.source, reason, recorded)
        raise rejection
    delivery_id = uuid.uuid4()
    await store.store(_delivery_row(cmd, delivery_id, now, arrival=store.next_arrival()))
    return IngestResult(delivery_id=delivery_id)


def _verification_error(
    adapter: CrmAdapter, delivery: Delivery, secrets: list[str], now: datetime
) -> WebhookRejected | MalformedWebhook | None:
    try:
        adapter.verify(delivery, secrets=secrets, now=now)
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


def _refusal_row(
    cmd: IngestWebhook, reason: str, rejection: DomainError, now: datetime
) -> dict[str, Any]:
    return {
        "org_id": cmd.org_id,
        "source": cmd.source,
        "hour": now.replace(minute=0, second=0, microsecond=0),
        "last_at": now,
        "last_reason": reason,
        "last_error": rejection.detail[:500],
    }


async def purge_rejections(
    *, uow: PerformanceUnitOfWork, now: datetime, retention: timedelta
) -> int:
    """Forget audit records and refusal counts of refused deliveries older than the retention."""
    async with uow:
        purged = await uow.repo.purge_rejections(before=now - retention)
        await uow.health.purge_refusals(before=now - retention)
        await uow.commit()
    return purged


def _delivery_row(
    cmd: IngestWebhook, delivery_id: uuid.UUID, now: datetime, *, arrival: int
) -> dict[str, Any]:
    return {
        "id": delivery_id,
        "org_id": cmd.org_id,
        "source": cmd.source,
        "received_at": now,
        "headers": {
            k.lower(): v for k, v in cmd.headers.items() if k.lower() not in _SECRET_HEADERS
        },
        "body": cmd.body,
        "verified": True,
        "outcome": "received",
        "error": None,
        "processed_at": None,
        "arrival": arrival,
        "applied": 0,
        "duplicates": 0,
        "attempts": 0,
        "next_attempt_at": None,
    }


async def rotate_secret(
    cmd: RotateSecret,
    *,
    uow: PerformanceUnitOfWork,
    org_id: uuid.UUID,
    now: datetime,
    default_overlap_s: int,
    adapters: Mapping[str, CrmAdapter],
) -> RotationResult:
    """Activate a new secret; earlier ones stay valid until now + overlap (never extended)."""
    _check_secret(adapters[cmd.source], cmd.secret)
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


def _check_secret(adapter: CrmAdapter, secret: str) -> None:
    """Refuse secrets the adapter could never use, so a typo fails now rather than per delivery."""
    try:
        adapter.check_secret(secret)
    except ValueError as error:
        raise InvalidInput(str(error), field="secret") from None
