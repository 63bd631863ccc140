"""Wire models of the performance API; amounts and ratios are decimal strings."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from services.performance.adapters.orm import Sale, SaleCredit
from services.performance.domain.pace import Thresholds
from services.performance.handlers.evaluation import MemberPace, TeamPace
from shared.bounds import BoundedDecimal
from shared.money import NonNegativeAmount, from_minor
from shared.timeutil import UtcInstant

Status = Literal["on_track", "at_risk", "struggling"]
_MEMBER = "5b0e7a4e-3f57-4c1e-8d2a-0c1b7f9e6a11"
_SALE = "8f3c1d2e-6a7b-4c5d-9e0f-1a2b3c4d5e6f"


class WebhookAccepted(BaseModel):
    """A delivery was stored durably; the delivery processor applies it shortly after."""

    delivery_id: uuid.UUID
    outcome: str = Field(
        "received", examples=["received"], description="GET /v1/webhook-deliveries/{id} follows it"
    )
    applied: int | None = Field(
        None, examples=[None], description="Null until processed: see the delivery's own view"
    )
    duplicates: int | None = Field(
        None, examples=[None], description="Null until processed: see the delivery's own view"
    )


class SecretRotation(BaseModel):
    """A new webhook secret for a source.

    generic: `whsec_<base64>`; hubspot: the app's client secret (plus `api_token`, a private-app
    token used to read deals); pipedrive: `user:password` of the webhook's Basic auth;
    salesforce: the 15- or 18-character OrganizationId.
    """

    secret: str = Field(
        min_length=1,
        max_length=500,
        examples=["whsec_YXR0YWluLWdlbmVyaWMtdGVzdC1zZWNyZXQtMDAwMQ=="],
    )
    overlap_seconds: int | None = Field(
        None,
        ge=0,
        le=30 * 24 * 3600,
        examples=[86400],
        description="Previous secrets stay valid this long",
    )
    api_token: str | None = Field(
        None, max_length=500, examples=["pat-eu1-..."], description="HubSpot only"
    )


class SecretRotated(BaseModel):
    """The rotation took effect (the secret itself is never returned)."""

    secret_id: uuid.UUID
    source: str = Field(examples=["generic"])
    active_since: datetime
    previous_valid_until: datetime | None


class CreditIn(BaseModel):
    """A member's share of a sale, in percent."""

    member_id: uuid.UUID = Field(examples=[_MEMBER])
    percent: BoundedDecimal = Field(gt=0, le=100, examples=["60"])


class _CreditChoice(BaseModel):
    # Exactly one of the two, as the validator below demands: stated in the schema too.
    model_config = {
        "json_schema_extra": {
            "oneOf": [
                {"required": ["member_id"], "properties": {"member_id": {"not": {"type": "null"}}}},
                {"required": ["credits"], "properties": {"credits": {"not": {"type": "null"}}}},
            ]
        }
    }

    member_id: uuid.UUID | None = Field(None, examples=[_MEMBER])
    credits: list[CreditIn] | None = Field(
        None, max_length=100, description="A split summing to 100"
    )

    @model_validator(mode="after")
    def _one_of(self) -> _CreditChoice:
        if (self.member_id is None) == (self.credits is None):
            raise ValueError("give either member_id or credits")
        return self

    def split(self) -> list[tuple[uuid.UUID, Decimal]]:
        """The credit as (member, percent) pairs."""
        if self.member_id is not None:
            return [(self.member_id, Decimal(100))]
        return [(c.member_id, c.percent) for c in self.credits or []]


class SaleCreate(_CreditChoice):
    """A sale entered by hand."""

    amount: NonNegativeAmount = Field(ge=0, examples=["12500.00"])
    currency: str = Field(min_length=3, max_length=3, examples=["EUR"])
    closed_at: UtcInstant = Field(examples=["2026-12-07T15:04:11Z"])
    external_id: str | None = Field(None, max_length=200, examples=["INV-2026-000871"])


class SaleAssignment(_CreditChoice):
    """Who gets a sale's credit."""


class CreditRead(BaseModel):
    """A member's share of a sale and the amount it counts for."""

    member_id: uuid.UUID
    percent: Decimal = Field(examples=["100"])
    amount: Decimal = Field(examples=["12500.00"])


class SaleRead(BaseModel):
    """A sale with its credit; unassigned sales have no credit yet."""

    id: uuid.UUID = Field(examples=[_SALE])
    team_id: uuid.UUID | None
    source: str = Field(examples=["hubspot"])
    external_id: str | None = Field(examples=["18930512211"])
    amount: Decimal = Field(examples=["18250.00"])
    currency: str = Field(examples=["EUR"])
    closed_at: datetime
    status: Literal["active", "reversed"]
    unassigned: bool
    currency_mismatch: bool = Field(description="In another currency than the team's: not counted")
    owner_ref: str | None = Field(examples=["4021113"])
    owner_email: str | None
    credits: list[CreditRead]
    version: int

    @classmethod
    def of(cls, sale: Sale, credits: list[SaleCredit]) -> SaleRead:
        """Wire form of a stored sale."""
        return cls(
            id=sale.id,
            team_id=sale.team_id,
            source=sale.source,
            external_id=sale.external_id,
            amount=from_minor(sale.amount_minor, sale.currency),
            currency=sale.currency,
            closed_at=sale.closed_at,
            status=sale.status,
            unassigned=sale.unassigned,
            currency_mismatch=sale.currency_mismatch,
            owner_ref=sale.owner_ref,
            owner_email=sale.owner_email,
            credits=[
                CreditRead(
                    member_id=c.member_id,
                    percent=Decimal(c.percent),
                    amount=from_minor(c.credited_minor, sale.currency),
                )
                for c in credits
            ],
            version=sale.version,
        )


class AttainmentRead(BaseModel):
    """A member's attainment and pace in a period."""

    member_id: uuid.UUID = Field(examples=[_MEMBER])
    team_id: uuid.UUID
    period_id: uuid.UUID
    target_id: uuid.UUID
    target_version: int = Field(examples=[2])
    target: Decimal = Field(examples=["100000.00"])
    achieved: Decimal = Field(examples=["42000.00"])
    percent: Decimal = Field(examples=["42.00"], description="achieved / target, in percent")
    expected_to_date: Decimal = Field(examples=["50000.00"])
    projected: Decimal = Field(examples=["84000.00"])
    status: Status
    shortfall: Decimal = Field(examples=["16000.00"])
    currency: str = Field(examples=["EUR"])

    @classmethod
    def of(cls, row: MemberPace, *, team_id: uuid.UUID, period_id: uuid.UUID) -> AttainmentRead:
        """Wire form of a computed pace."""
        p = row.pace
        return cls(
            member_id=row.member_id,
            team_id=team_id,
            period_id=period_id,
            target_id=row.target.id,
            target_version=row.target.version,
            target=row.money(p.target_minor),
            achieved=row.money(p.achieved_minor),
            percent=p.percent,
            expected_to_date=row.money(p.expected_to_date_minor),
            projected=row.money(p.projected_minor),
            status=p.status.value,
            shortfall=row.money(p.shortfall_minor),
            currency=row.currency,
        )


class TeamAttainmentRead(BaseModel):
    """A team's attainment in a period, per member."""

    team_id: uuid.UUID
    period_id: uuid.UUID
    currency: str = Field(examples=["EUR"])
    as_of: datetime
    items: list[AttainmentRead]
    next_cursor: str | None = Field(None, description="Opaque cursor of the next page, if any")

    @classmethod
    def of(cls, view: TeamPace, *, next_cursor: str | None = None) -> TeamAttainmentRead:
        """Wire form of a team's pace (one page of it)."""
        return cls(
            team_id=view.team_id,
            period_id=view.period_id,
            currency=view.currency,
            as_of=view.as_of,
            items=[
                AttainmentRead.of(m, team_id=view.team_id, period_id=view.period_id)
                for m in view.members
            ],
            next_cursor=next_cursor,
        )


class EvaluationRequest(BaseModel):
    """Evaluate now, or as of a past instant (admins only)."""

    as_of: datetime | None = Field(None, examples=["2026-11-15T00:00:00Z"])


class EvaluationRead(TeamAttainmentRead):
    """The evaluated team and the shortfalls this evaluation announced."""

    shortfalls_detected: list[uuid.UUID] = Field(description="shortfall_id of each new episode")


class LeaderboardEntry(BaseModel):
    """One member's place on the team leaderboard."""

    rank: int = Field(examples=[1])
    member_id: uuid.UUID
    achieved: Decimal = Field(examples=["42000.00"])
    percent: Decimal = Field(examples=["84.00"])
    status: Status


class LeaderboardRead(BaseModel):
    """A team ranked by percent of target."""

    team_id: uuid.UUID
    period_id: uuid.UUID
    currency: str
    as_of: datetime
    entries: list[LeaderboardEntry]


class ThresholdsBody(BaseModel):
    """Pace thresholds as ratios of projection to target."""

    at_risk_below: BoundedDecimal = Field(Decimal("0.9"), ge=0, examples=["0.9"])
    struggling_below: BoundedDecimal = Field(Decimal("0.7"), ge=0, examples=["0.7"])
    hysteresis: BoundedDecimal = Field(Decimal("0.05"), ge=0, examples=["0.05"])
    min_elapsed_share: BoundedDecimal = Field(Decimal("0.1"), ge=0, le=1, examples=["0.1"])

    @classmethod
    def of(cls, thresholds: Thresholds) -> ThresholdsBody:
        """Wire form of thresholds."""
        return cls(
            at_risk_below=thresholds.at_risk_below,
            struggling_below=thresholds.struggling_below,
            hysteresis=thresholds.hysteresis,
            min_elapsed_share=thresholds.min_elapsed_share,
        )
