"""CRM connection health: whether each source is set up and what its deliveries did lately."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.performance.api.deps import NowDep, UowDep
from services.performance.handlers.crm_status import SourceHealth, crm_status
from shared.auth import AdminPrincipal
from shared.problems import problem_responses

router = APIRouter(prefix="/v1/crm", tags=["webhooks"])


class LastDeliveryRead(BaseModel):
    """The newest verified delivery of a source."""

    delivery_id: uuid.UUID
    received_at: datetime
    outcome: str = Field(examples=["processed"])


class LastErrorRead(BaseModel):
    """The newest failure: a delivery that failed or was malformed, or a refused one."""

    at: datetime
    kind: str = Field(
        examples=["rejected"],
        description="failed | malformed (a stored delivery) | rejected (bad signature or stale "
        "timestamp) | no_secret",
    )
    message: str = Field(examples=["no signature matches"])
    delivery_id: uuid.UUID | None = Field(description="The stored delivery, if it was stored")


class SourceStatusRead(BaseModel):
    """One CRM source's connection health."""

    source: str = Field(examples=["hubspot"])
    secret_set: bool
    secret_since: datetime | None = Field(description="When the newest valid secret was set")
    last_delivery: LastDeliveryRead | None
    last_24h: dict[str, int] = Field(
        examples=[
            {
                "received": 0,
                "fetching": 0,
                "processed": 41,
                "malformed": 1,
                "failed": 0,
                "refused": 3,
            }
        ],
        description=(
            "Deliveries received in the last 24 hours by outcome, plus refused ones (counted by "
            "the hour they fell in, for sources with a secret)"
        ),
    )
    last_error: LastErrorRead | None

    @classmethod
    def of(cls, health: SourceHealth) -> SourceStatusRead:
        """Wire form of one source's health."""
        last, error = health.last_delivery, health.last_error
        return cls(
            source=health.source,
            secret_set=health.secret_set,
            secret_since=health.secret_since,
            last_delivery=LastDeliveryRead(**vars(last)) if last else None,
            last_24h=health.counts,
            last_error=LastErrorRead(**vars(error)) if error else None,
        )


class CrmStatusRead(BaseModel):
    """Every CRM source's connection health, as of a moment."""

    as_of: datetime
    sources: list[SourceStatusRead]


@router.get(
    "/status",
    response_model=CrmStatusRead,
    responses=problem_responses(401, 403),
)
async def read_crm_status(principal: AdminPrincipal, uow: UowDep, now: NowDep) -> CrmStatusRead:
    """Read each CRM connection's health: secret, last delivery, last day's outcomes, last error."""
    sources = await crm_status(uow=uow, org_id=principal.org, now=now)
    return CrmStatusRead(as_of=now, sources=[SourceStatusRead.of(s) for s in sources])
