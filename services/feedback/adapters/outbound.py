"""Which facts other systems may subscribe to, and queuing them for each matching subscription."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.feedback.adapters.orm import WebhookDelivery, WebhookSubscription
from shared.events import Envelope

#: The public name of each fact other systems may subscribe to, by the internal event type.
PUBLIC_TYPES: dict[str, str] = {
    "attain.goals.target_changed.v1": "target.changed",
    "attain.performance.team_shortfalls_detected.v1": "shortfall.detected",
    "attain.performance.shortfall_detected.v1": "shortfall.detected",
    "attain.goals.targets_rebalanced.v1": "rebalance.applied",
    "attain.feedback.dispute_resolved.v1": "dispute.decided",
    "attain.feedback.action_item_overdue.v1": "action_item.overdue",
    "attain.feedback.dispute_overdue.v1": "dispute.overdue",
}
SUBSCRIBABLE = tuple(sorted(set(PUBLIC_TYPES.values())))
TEST_TYPE = "webhook.test"


def public_data(envelope: Envelope) -> dict[str, Any] | None:
    """The data another system receives for a fact (None: nothing worth sending)."""
    data = dict(envelope.data)
    if envelope.type == "attain.performance.team_shortfalls_detected.v1":
        # Performance repeats an uncovered team hourly; subscribers hear of each episode once.
        fresh = [s for s in data.get("shortfalls", []) if s.get("new")]
        if not fresh:
            return None
        data["shortfalls"] = fresh
        data.pop("standings", None)
    elif envelope.type == "attain.performance.shortfall_detected.v1":
        data.pop("snapshot", None)
    elif envelope.type == "attain.feedback.dispute_resolved.v1":
        # The rationale is for the parties; other systems get the outcome and its actions.
        data.pop("rationale", None)
    return data


def body_of(*, public_type: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """A Standard Webhooks payload: type, timestamp and data."""
    return {"type": public_type, "timestamp": at.astimezone(UTC).isoformat(), "data": data}


async def queue_deliveries(session: AsyncSession, envelope: Envelope) -> int:
    """Queue a public fact for every active subscription of its org that wants it."""
    public_type = PUBLIC_TYPES.get(envelope.type)
    if public_type is None or envelope.tenantid is None:
        return 0
    data = public_data(envelope)
    if data is None:
        return 0
    org_id = UUID(envelope.tenantid)
    team_id = data.get("team_id")
    stmt = select(WebhookSubscription).where(
        WebhookSubscription.org_id == org_id, col(WebhookSubscription.active).is_(True)
    )
    queued = 0
    now = datetime.now(UTC)
    for sub in (await session.exec(stmt)).all():
        if public_type not in sub.types:
            continue
        if sub.team_id is not None and str(sub.team_id) != team_id:
            continue
        already = select(WebhookDelivery.id).where(
            WebhookDelivery.subscription_id == sub.id, WebhookDelivery.event_id == envelope.id
        )
        if (await session.exec(already)).first() is not None:
            continue
        row = {
            "id": uuid.uuid4(),
            "org_id": org_id,
            "subscription_id": sub.id,
            "event_id": envelope.id,
            "type": public_type,
            "payload": body_of(public_type=public_type, at=envelope.time, data=data),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        session.add(WebhookDelivery.model_validate(row))
        queued += 1
    return queued
