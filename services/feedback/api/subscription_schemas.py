"""Wire models of outbound webhook subscriptions and their delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool

PublicType = Literal[
    "action_item.overdue",
    "dispute.decided",
    "dispute.overdue",
    "rebalance.applied",
    "shortfall.detected",
    "target.changed",
]
_EX_URL = "https://hooks.example.com/attain"


class SubscriptionCreate(BaseModel):
    """Subscribe an endpoint to public facts, optionally of one team only."""

    url: str = Field(min_length=8, max_length=2000, examples=[_EX_URL])
    types: list[PublicType] = Field(min_length=1, max_length=20, examples=[["target.changed"]])
    team_id: UUID | None = Field(None, examples=[None])


class SubscriptionUpdate(BaseModel):
    """Change the endpoint or the types; `active: true` re-enables a disabled subscription."""

    url: str | None = Field(None, min_length=8, max_length=2000, examples=[_EX_URL])
    types: list[PublicType] | None = Field(None, min_length=1, max_length=20)
    active: StrictBool | None = Field(None, examples=[True])


class SubscriptionRead(BaseModel):
    """A subscription (the secret is shown only when it is created)."""

    model_config = ConfigDict(from_attributes=True)  # model_validate maps a stored subscription

    id: UUID
    url: str
    types: list[str]
    team_id: UUID | None
    active: bool
    consecutive_failures: int
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime


class SubscriptionCreated(SubscriptionRead):
    """A new subscription with its signing secret, shown this once."""

    secret: str = Field(
        description="Standard Webhooks secret (whsec_...): verify each delivery's signature",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class WebhookDeliveryFacts(Protocol):
    """A delivery as stored: what DeliveryRead reads of it."""

    id: UUID
    type: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any]


class DeliveryRead(BaseModel):
    """One fact sent (or being sent) to a subscription."""

    id: UUID
    webhook_id: str = Field(description="The webhook-id header, the same on every attempt")
    type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any]

    @classmethod
    def from_row(cls, row: WebhookDeliveryFacts) -> DeliveryRead:
        """Map a delivery row."""
        return cls(
            id=row.id,
            webhook_id=f"msg_{row.id.hex}",
            type=row.type,
            status=row.status,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            created_at=row.created_at,
            delivered_at=row.delivered_at,
            payload=row.payload,
        )
