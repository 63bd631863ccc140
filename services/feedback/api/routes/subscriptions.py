"""Outbound webhook routes (admin): subscriptions, the delivery log, a test delivery."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from fastapi import APIRouter

from services.feedback.api.deps import RuntimeDep, UowDep
from services.feedback.api.subscription_schemas import (
    DeliveryRead,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionRead,
    SubscriptionUpdate,
)
from services.feedback.handlers import subscriptions as handlers
from shared.auth import AdminPrincipal
from shared.http import Cursor, Limit, Page
from shared.problems import problem_responses

router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"])


@router.post(
    "",
    status_code=201,
    response_model=SubscriptionCreated,
    responses=problem_responses(403, 409, 422),
)
async def create_subscription(
    body: SubscriptionCreate, principal: AdminPrincipal, uow: UowDep, runtime: RuntimeDep
) -> SubscriptionCreated:
    """Subscribe an endpoint to public facts, signed per Standard Webhooks 1.0 (admin)."""
    cmd = handlers.CreateSubscription(url=body.url, types=list(body.types), team_id=body.team_id)
    row, secret = await handlers.create_subscription(
        cmd, uow=uow, principal=principal, policy=handlers.policy_from(runtime.settings)
    )
    return SubscriptionCreated(**SubscriptionRead.model_validate(row).model_dump(), secret=secret)


@router.get("", response_model=Page[SubscriptionRead], responses=problem_responses(403))
async def list_subscriptions(
    principal: AdminPrincipal, uow: UowDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[SubscriptionRead]:
    """List the organisation's subscriptions (admin)."""
    rows, next_cursor = await handlers.list_subscriptions(
        uow=uow, principal=principal, cursor=cursor, limit=limit
    )
    return Page[SubscriptionRead](
        items=[SubscriptionRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get(
    "/{subscription_id}", response_model=SubscriptionRead, responses=problem_responses(403, 404)
)
async def get_subscription(
    subscription_id: UUID, principal: AdminPrincipal, uow: UowDep
) -> SubscriptionRead:
    """Show a subscription: active, or disabled and why (admin)."""
    row = await handlers.get_subscription(subscription_id, uow=uow, principal=principal)
    return SubscriptionRead.model_validate(row)


@router.patch(
    "/{subscription_id}",
    response_model=SubscriptionRead,
    responses=problem_responses(403, 404, 422),
)
async def update_subscription(
    subscription_id: UUID,
    body: SubscriptionUpdate,
    principal: AdminPrincipal,
    uow: UowDep,
    runtime: RuntimeDep,
) -> SubscriptionRead:
    """Change a subscription, or re-enable one that was disabled after failures (admin)."""
    cmd = handlers.UpdateSubscription(
        subscription_id=subscription_id,
        url=body.url,
        types=list(body.types) if body.types is not None else None,
        active=body.active,
    )
    row = await handlers.update_subscription(
        cmd, uow=uow, principal=principal, policy=handlers.policy_from(runtime.settings)
    )
    return SubscriptionRead.model_validate(row)


@router.get(
    "/{subscription_id}/deliveries",
    response_model=Page[DeliveryRead],
    responses=problem_responses(403, 404, 422),
)
async def list_deliveries(
    subscription_id: UUID,
    principal: AdminPrincipal,
    uow: UowDep,
    status: Literal["pending", "delivered", "failed"] | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[DeliveryRead]:
    """The delivery log: every fact sent, its attempts and outcome (admin)."""
    rows, next_cursor = await handlers.list_deliveries(
        subscription_id, uow=uow, principal=principal, status=status, cursor=cursor, limit=limit
    )
    return Page[DeliveryRead](
        items=[DeliveryRead.from_row(r) for r in rows], next_cursor=next_cursor
    )


@router.post(
    "/{subscription_id}/test",
    response_model=DeliveryRead,
    responses=problem_responses(403, 404, 409),
)
async def test_subscription(
    subscription_id: UUID, principal: AdminPrincipal, runtime: RuntimeDep
) -> DeliveryRead:
    """Send a signed `webhook.test` now and report what the endpoint answered (admin)."""
    row = await handlers.send_test(
        subscription_id,
        uow_factory=runtime.uow,
        principal=principal,
        policy=handlers.policy_from(runtime.settings),
    )
    return DeliveryRead.from_row(row)
