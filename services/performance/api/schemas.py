"""Wire models of the performance API; amounts and ratios are decimal strings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, Field, StringConstraints, model_validator

from services.performance.domain.pace import Thresholds
from services.performance.handlers.evaluation import MemberPace, TeamPace
from shared.bounds import BoundedDecimal
from shared.money import NonNegativeAmount, from_minor
from shared.timeutil import UtcInstant

Status = Literal["on_track", "at_risk", "struggling", "no_target"]
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


StageId = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class HubSpotStagesIn(BaseModel):
    """Stage ids that mean won or lost whatever HubSpot's flags say; absent: the flags decide."""

    won_stages: list[StageId] | None = Field(None, max_length=200, examples=[["87654321"]])
    lost_stages: list[StageId] | None = Field(None, max_length=200, examples=[["87654322"]])


class CrmSettingsFacts(Protocol):
    """An org's CRM settings as stored: what HubSpotStagesRead reads of them."""

    won_stages: list[str] | None
    lost_stages: list[str] | None
    updated_at: datetime


class HubSpotStagesRead(BaseModel):
    """An org's HubSpot stage map; null sides are left to HubSpot's hs_is_closed(_won) flags."""

    won_stages: list[str] | None
    lost_stages: list[str] | None
    updated_at: datetime | None

    @classmethod
    def of(cls, row: CrmSettingsFacts | None) -> HubSpotStagesRead:
        """Wire form of the stored settings (none stored: an empty map)."""
        if row is None:
            return cls(won_stages=None, lost_stages=None, updated_at=None)
        return cls(
            won_stages=row.won_stages, lost_stages=row.lost_stages, updated_at=row.updated_at
        )


class CreditRead(BaseModel):
    """A member's share of a sale and the amount it counts for."""

    member_id: uuid.UUID
    percent: Decimal = Field(examples=["100"])
    amount: Decimal = Field(examples=["12500.00"])


class SaleValuationFacts(Protocol):
    """A sale's value in one period as stored: what ValuationRead reads of it."""

    period_id: uuid.UUID
    counted_minor: int
    currency: str
    rate: str
    valued_at: datetime


class ValuationRead(BaseModel):
    """What a sale in another currency counts for in one period, at that period's rate."""

    period_id: uuid.UUID
    amount: Decimal = Field(examples=["16790.00"], description="In the team's currency")
    currency: str = Field(examples=["EUR"])
    rate: Decimal = Field(
        examples=["0.9200"], description="1 unit of the sale's currency in this one"
    )
    valued_at: datetime

    @classmethod
    def of(cls, row: SaleValuationFacts) -> ValuationRead:
        """Wire form of a stored valuation."""
        return cls(
            period_id=row.period_id,
            amount=from_minor(row.counted_minor, row.currency),
            currency=row.currency,
            rate=Decimal(row.rate),
            valued_at=row.valued_at,
        )


class SaleFacts(Protocol):
    """A sale as stored: what SaleRead reads of it."""

    id: uuid.UUID
    team_id: uuid.UUID | None
    source: str
    external_id: str | None
    amount_minor: int
    currency: str
    currency_mismatch: bool
    closed_at: datetime
    status: str
    unassigned: bool
    owner_ref: str | None
    owner_email: str | None
    competitor: str | None
    loss_reasons: list[str]
    version: int


class SaleCreditFacts(Protocol):
    """A member's credit of a sale as stored: what SaleRead reads of it."""

    member_id: uuid.UUID
    percent: str
    credited_minor: int


class SaleRead(BaseModel):
    """A sale with its credit; unassigned sales have no credit yet."""

    id: uuid.UUID = Field(examples=[_SALE])
    team_id: uuid.UUID | None
    source: str = Field(examples=["hubspot"])
    external_id: str | None = Field(examples=["18930512211"])
    amount: Decimal = Field(examples=["18250.00"])
    currency: str = Field(examples=["EUR"])
    closed_at: datetime
    status: Literal["active", "reversed", "lost"] = Field(
        description="lost: a closed-lost deal, kept for the competitor view and never counted"
    )
    unassigned: bool
    currency_mismatch: bool = Field(
        description="In another currency than the team's and valued at no period's rate: not counted"
    )
    counted_amount: Decimal | None = Field(
        examples=["16790.00"],
        description=(
            "What the sale counts for, in counted_currency: the amount itself, or the amount "
            "converted at its period's rate (fx_rate), rounded once. Null while no rate values it "
            "(or when overlapping periods value it differently: see valuations)"
        ),
    )
    counted_currency: str | None = Field(examples=["EUR"])
    fx_rate: Decimal | None = Field(examples=["0.9200"], description="The rate used, if converted")
    valuations: list[ValuationRead] = Field(
        description="A converted sale's value in each period whose rate values it"
    )
    owner_ref: str | None = Field(examples=["4021113"])
    owner_email: str | None
    competitor: str | None = Field(None, examples=["Globex"])
    loss_reasons: list[str] = Field(default_factory=list, examples=[["price"]])
    credits: list[CreditRead]
    version: int

    @classmethod
    def of(
        cls,
        sale: SaleFacts,
        credits: Sequence[SaleCreditFacts],
        valuations: Sequence[SaleValuationFacts] = (),
    ) -> SaleRead:
        """Wire form of a stored sale."""
        valued = [ValuationRead.of(v) for v in valuations] if sale.currency_mismatch else []
        counted, currency, rate = _counted(sale, valued)
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
            currency_mismatch=sale.currency_mismatch and not valued,
            counted_amount=counted,
            counted_currency=currency,
            fx_rate=rate,
            valuations=valued,
            owner_ref=sale.owner_ref,
            owner_email=sale.owner_email,
            competitor=sale.competitor,
            loss_reasons=sale.loss_reasons or [],
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


def _counted(
    sale: SaleFacts, valued: list[ValuationRead]
) -> tuple[Decimal | None, str | None, Decimal | None]:
    """(amount, currency, rate) the sale counts for, when one figure says it."""
    if sale.team_id is None:  # unassigned: counts for nobody yet
        return None, None, None
    if not sale.currency_mismatch:
        return from_minor(sale.amount_minor, sale.currency), sale.currency, None
    figures = {(v.amount, v.currency, v.rate) for v in valued}
    return figures.pop() if len(figures) == 1 else (None, None, None)


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
