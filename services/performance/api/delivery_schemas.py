"""Bodies of the webhook delivery log (admin)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from services.performance.adapters.orm import WebhookDelivery


class WebhookDeliveryRead(BaseModel):
    """A stored delivery and what processing it did."""

    id: uuid.UUID
    source: str
    received_at: datetime
    outcome: str = Field(
        examples=["processed"],
        description="received | fetching (HubSpot retry waiting) | processed | malformed | failed",
    )
    applied: int = Field(description="Changes this delivery applied")
    duplicates: int = Field(description="Changes that were applied before, by another delivery")
    error: str | None = Field(None, description="Why it is malformed, failed or still fetching")
    attempts: int = Field(description="HubSpot deal fetches tried so far")
    processed_at: datetime | None = None

    @classmethod
    def of(cls, row: WebhookDelivery) -> WebhookDeliveryRead:
        """The view of a stored row."""
        return cls(
            id=row.id,
            source=row.source,
            received_at=row.received_at,
            outcome=row.outcome,
            applied=row.applied,
            duplicates=row.duplicates,
            error=row.error,
            attempts=row.attempts,
            processed_at=row.processed_at if row.processed_at else None,
        )
