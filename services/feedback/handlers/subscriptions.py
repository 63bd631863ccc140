"""Outbound events for other systems: subscriptions, signed deliveries, retries, auto-disable."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import httpx
from standardwebhooks.webhooks import Webhook

from services.feedback.adapters.egress import (
    Resolver,
    UnsafeTarget,
    checked_target,
    system_resolver,
)
from services.feedback.adapters.orm import WebhookDelivery, WebhookSubscription
from services.feedback.adapters.outbound import SUBSCRIBABLE, TEST_TYPE, body_of
from services.feedback.adapters.unit_of_work import FeedbackUnitOfWork
from shared.auth import Principal
from shared.domain_errors import Conflict, InvalidInput, NotFound

USER_AGENT = "Attain-Webhooks/1"


@dataclass(frozen=True, kw_only=True)
class DeliveryPolicy:
    """How deliveries are sent and retried (from the settings)."""

    timeout_s: float = 5.0
    max_attempts: int = 8
    backoff_base_s: float = 5.0
    backoff_max_s: float = 3600.0
    disable_after_failures: int = 10
    batch: int = 50
    allow_http: bool = True
    # Private, link-local and loopback endpoints are always refused, loopback aside when this is
    # set (local runs and tests, whose receivers listen on 127.0.0.1).
    allow_loopback: bool = False
    resolver: Resolver = system_resolver
    require_sealed_secrets: bool = False

    def backoff(self, attempts: int) -> timedelta:
        """Wait before attempt attempts+1: exponential, capped, with a little jitter."""
        base = min(self.backoff_base_s * 2 ** (attempts - 1), self.backoff_max_s)
        # Jitter keeps many failed deliveries to one endpoint from retrying in lockstep.
        return timedelta(seconds=base * (1 + random.uniform(0, 0.1)))


def policy_from(settings: Any) -> DeliveryPolicy:
    """The delivery policy the feedback settings describe."""
    return DeliveryPolicy(
        timeout_s=settings.webhook_timeout_s,
        max_attempts=settings.webhook_max_attempts,
        backoff_base_s=settings.webhook_backoff_base_s,
        backoff_max_s=settings.webhook_backoff_max_s,
        disable_after_failures=settings.webhook_disable_after_failures,
        # Production endpoints take signed facts over TLS only.
        allow_http=settings.env != "production",
        allow_loopback=settings.webhook_allow_loopback and settings.env != "production",
        require_sealed_secrets=settings.env == "production",
    )


@dataclass(frozen=True, kw_only=True)
class CreateSubscription:
    """Subscribe an endpoint to public facts."""

    url: str
    types: list[str]
    team_id: UUID | None = None


@dataclass(frozen=True, kw_only=True)
class UpdateSubscription:
    """Change, re-enable or disable a subscription."""

    subscription_id: UUID
    url: str | None = None
    types: list[str] | None = None
    active: bool | None = None


def new_secret() -> str:
    """A fresh Standard Webhooks secret: whsec_ and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


async def _check_url(url: str, *, policy: DeliveryPolicy) -> str:
    parts = urlsplit(url.strip())
    schemes = ("https", "http") if policy.allow_http else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise InvalidInput(f"url must be an absolute {' or '.join(schemes)} URL", field="url")
    if parts.username or parts.password:
        raise InvalidInput("url must not carry credentials; verify the signature", field="url")
    try:
        # Signed facts go to other systems, never to this network's own services.
        await checked_target(
            url.strip(), resolver=policy.resolver, allow_loopback=policy.allow_loopback
        )
    except UnsafeTarget as exc:
        raise InvalidInput(f"url refused: {exc}", field="url") from None
    return url.strip()


def _check_types(types: list[str]) -> list[str]:
    unknown = sorted(set(types) - set(SUBSCRIBABLE))
    if not types or unknown:
        raise InvalidInput(
            f"types must be some of {', '.join(SUBSCRIBABLE)}", field="types", unknown=unknown
        )
    return sorted(set(types))


async def create_subscription(
    cmd: CreateSubscription,
    *,
    uow: FeedbackUnitOfWork,
    principal: Principal,
    policy: DeliveryPolicy,
) -> tuple[WebhookSubscription, str]:
    """Subscribe an endpoint (admin); the signing secret is returned this once."""
    url = await _check_url(cmd.url, policy=policy)
    types = _check_types(cmd.types)
    secret = new_secret()
    async with uow:
        if policy.require_sealed_secrets and not uow.secrets.enabled:
            raise Conflict(
                "set FEEDBACK_SECRETS_KEYS: signing secrets are never stored in plaintext"
            )
        if cmd.team_id is not None:
            if await uow.directory.team(org_id=principal.org, team_id=cmd.team_id) is None:
                raise InvalidInput("team_id is not a team of the organisation", field="team_id")
        data = {
            "id": uuid.uuid4(),
            "org_id": principal.org,
            "url": url,
            "types": types,
            "team_id": cmd.team_id,
            "secret": uow.secrets.seal(secret),
            "active": True,
            "consecutive_failures": 0,
            "created_by_sub": principal.sub,
            "created_at": datetime.now(UTC),
        }
        row = await uow.subscriptions.add(WebhookSubscription.model_validate(data))
        await uow.commit()
        return row, secret


async def _own(
    uow: FeedbackUnitOfWork, principal: Principal, subscription_id: UUID
) -> WebhookSubscription:
    row = await uow.subscriptions.get(org_id=principal.org, subscription_id=subscription_id)
    if row is None:
        raise NotFound("subscription not found")
    return row


async def get_subscription(
    subscription_id: UUID, *, uow: FeedbackUnitOfWork, principal: Principal
) -> WebhookSubscription:
    """Return a subscription of the caller's organisation (admin)."""
    async with uow:
        return await _own(uow, principal, subscription_id)


async def list_subscriptions(
    *, uow: FeedbackUnitOfWork, principal: Principal, cursor: str | None, limit: int
) -> tuple[list[WebhookSubscription], str | None]:
    """List the organisation's subscriptions (admin)."""
    async with uow:
        return await uow.subscriptions.list(org_id=principal.org, cursor=cursor, limit=limit)


async def update_subscription(
    cmd: UpdateSubscription,
    *,
    uow: FeedbackUnitOfWork,
    principal: Principal,
    policy: DeliveryPolicy,
) -> WebhookSubscription:
    """Change a subscription; re-enabling it resumes its pending deliveries (admin)."""
    async with uow:
        row = await _own(uow, principal, cmd.subscription_id)
        if cmd.url is not None:
            row.url = await _check_url(cmd.url, policy=policy)
        if cmd.types is not None:
            row.types = _check_types(cmd.types)
        if cmd.active is not None and cmd.active != row.active:
            row.active = cmd.active
            if cmd.active:
                row.consecutive_failures, row.disabled_at, row.disabled_reason = 0, None, None
            else:
                row.disabled_at, row.disabled_reason = datetime.now(UTC), "disabled by an admin"
        await uow.subscriptions.add(row)
        await uow.commit()
        return row


async def list_deliveries(
    subscription_id: UUID,
    *,
    uow: FeedbackUnitOfWork,
    principal: Principal,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[WebhookDelivery], str | None]:
    """The delivery log of a subscription (admin)."""
    async with uow:
        row = await _own(uow, principal, subscription_id)
        return await uow.subscriptions.deliveries(
            org_id=principal.org, subscription_id=row.id, status=status, cursor=cursor, limit=limit
        )


def signed_headers(*, secret: str, message_id: str, body: str) -> dict[str, str]:
    """Standard Webhooks 1.0 headers: webhook-id (stable across retries), timestamp, signature."""
    now = datetime.now(UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


@dataclass(frozen=True)
class _Claim:
    delivery_id: UUID
    url: str
    secret: str
    body: str
    headers_for: Callable[[], dict[str, str]]


async def _send(
    client: httpx.AsyncClient, claim: _Claim, policy: DeliveryPolicy
) -> tuple[int | None, str | None]:
    try:
        # Checked again at each delivery: the name may point elsewhere since (DNS rebinding).
        target = await checked_target(
            claim.url, resolver=policy.resolver, allow_loopback=policy.allow_loopback
        )
    except UnsafeTarget as exc:
        return None, f"refused: {exc}"[:500]
    try:
        response = await client.post(
            target.request_url(),
            content=claim.body.encode(),
            headers={**claim.headers_for(), **target.headers()},
            extensions=target.extensions(),
        )
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}"


def _claim_of(
    uow: FeedbackUnitOfWork, delivery: WebhookDelivery, sub: WebhookSubscription
) -> _Claim:
    secret = uow.secrets.open(sub.secret)
    body = json.dumps(delivery.payload, separators=(",", ":"))
    # The same webhook-id on every attempt, so receivers can drop a retry they already took.
    message_id = f"msg_{delivery.id.hex}"

    def headers() -> dict[str, str]:
        # Signed when sent, so the timestamp is fresh for the receiver's tolerance window.
        return signed_headers(secret=secret, message_id=message_id, body=body)

    return _Claim(delivery.id, sub.url, secret, body, headers)


async def _record(
    uow: FeedbackUnitOfWork,
    *,
    delivery_id: UUID,
    outcome: tuple[int | None, str | None],
    policy: DeliveryPolicy,
    counts: bool = True,
) -> WebhookDelivery | None:
    """Write one attempt's outcome; a failure schedules a retry or gives up, and may disable."""
    delivery = await uow.subscriptions.delivery(delivery_id)
    if delivery is None:
        return None
    sub = await uow.subscriptions.get(
        org_id=delivery.org_id, subscription_id=delivery.subscription_id
    )
    status_code, error = outcome
    now = datetime.now(UTC)
    delivery.attempts += 1
    delivery.last_status_code, delivery.last_error = status_code, error
    if error is None:
        delivery.status, delivery.delivered_at = "delivered", now
        if sub is not None and counts:
            sub.consecutive_failures = 0
    else:
        if not counts or delivery.attempts >= policy.max_attempts:
            delivery.status = "failed"
        else:
            delivery.next_attempt_at = now + policy.backoff(delivery.attempts)
        if sub is not None and counts:
            sub.consecutive_failures += 1
            # 410 Gone is the receiver saying it will never take these (Standard Webhooks).
            gone = status_code == 410
            if sub.active and (gone or sub.consecutive_failures >= policy.disable_after_failures):
                sub.active, sub.disabled_at = False, now
                sub.disabled_reason = (
                    "the endpoint answered 410 Gone"
                    if gone
                    else f"{sub.consecutive_failures} failed attempts in a row"
                )
    await uow.subscriptions.add(delivery)
    if sub is not None:
        await uow.subscriptions.add(sub)
    return delivery


async def deliver_due(
    *,
    uow_factory: Callable[[], FeedbackUnitOfWork],
    policy: DeliveryPolicy,
    client: httpx.AsyncClient | None = None,
) -> int:
    """Send every due delivery once: claim, send outside any transaction, record the outcome."""
    now = datetime.now(UTC)
    async with uow_factory() as uow:
        due = await uow.subscriptions.due(now=now, limit=policy.batch)
        claims = []
        # The lease: a crashed sender's claims come due again after it, and are retried.
        lease = now + timedelta(seconds=policy.timeout_s + 30)
        for delivery in due:
            sub = await uow.subscriptions.get(
                org_id=delivery.org_id, subscription_id=delivery.subscription_id
            )
            if sub is None:
                continue
            claims.append(_claim_of(uow, delivery, sub))
            delivery.next_attempt_at = lease
            await uow.subscriptions.add(delivery)
        await uow.commit()
    if not claims:
        return 0
    own_client = client is None
    http = client or httpx.AsyncClient(timeout=policy.timeout_s, follow_redirects=False)
    try:
        outcomes = await asyncio.gather(*(_send(http, c, policy) for c in claims))
    finally:
        if own_client:
            await http.aclose()
    async with uow_factory() as uow:
        for claim, outcome in zip(claims, outcomes, strict=True):
            await _record(uow, delivery_id=claim.delivery_id, outcome=outcome, policy=policy)
        await uow.commit()
    return len(claims)


async def send_test(
    subscription_id: UUID,
    *,
    uow_factory: Callable[[], FeedbackUnitOfWork],
    principal: Principal,
    policy: DeliveryPolicy,
) -> WebhookDelivery:
    """Send a signed webhook.test at once and report the outcome (it is never retried)."""
    async with uow_factory() as uow:
        sub = await _own(uow, principal, subscription_id)
        if not sub.active:
            raise Conflict("the subscription is disabled; re-enable it first")
        now = datetime.now(UTC)
        data: dict[str, Any] = {"subscription_id": str(sub.id), "org_id": str(sub.org_id)}
        row = {
            "id": uuid.uuid4(),
            "org_id": sub.org_id,
            "subscription_id": sub.id,
            "event_id": f"test-{uuid.uuid4()}",
            "type": TEST_TYPE,
            "payload": body_of(public_type=TEST_TYPE, at=now, data=data),
            "status": "pending",
            "attempts": 0,
            # Never due for the sweep: this request sends it, once.
            "next_attempt_at": now + timedelta(days=3650),
            "created_at": now,
        }
        delivery = await uow.subscriptions.add(WebhookDelivery.model_validate(row))
        claim = _claim_of(uow, delivery, sub)
        await uow.commit()
    async with httpx.AsyncClient(timeout=policy.timeout_s, follow_redirects=False) as http:
        outcome = await _send(http, claim, policy)
    async with uow_factory() as uow:
        recorded = await _record(
            uow, delivery_id=claim.delivery_id, outcome=outcome, policy=policy, counts=False
        )
        await uow.commit()
    assert recorded is not None
    return recorded
