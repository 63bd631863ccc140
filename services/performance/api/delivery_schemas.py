"""Bodies of the webhook delivery log (admin)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class WebhookDeliveryRead(BaseModel):
    """A stored delivery and what processing it did."""

    model_config = ConfigDict(from_attributes=True)  # model_validate maps a stored delivery

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
