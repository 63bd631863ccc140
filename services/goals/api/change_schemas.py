"""Wire models of change requests, change policies and the adjustment profile."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from services.goals.api.schemas import MEMBER, TARGET, TEAM, Money, TargetChangeRead, _Out
from services.goals.domain.adjustment_guard import AdjustmentProfile, Concentration
from services.goals.domain.change_requests import dispute_id_of
from shared.bounds import BoundedDecimal
from shared.money import NonNegativeAmount, from_minor

ChangeState = Literal["pending", "approved", "rejected", "withdrawn"]


class ChangePolicyWrite(BaseModel):
    """A team's limits on target change requests."""

    max_changes_per_rep_per_period: int | None = Field(
        2, ge=0, le=1000, examples=[2], description="null: no limit"
    )
    notice_days: int = Field(
        0, ge=0, le=366, examples=[7], description="Days that must be left in the period"
    )
    second_approver_above_pct: BoundedDecimal = Field(
        Decimal(10),
        ge=0,
        le=1000,
        examples=["10"],
        description="A change above this % of the target needs a second, senior approver",
    )


# What the wire forms read of the stored records (the ORM rows fit; the API does not import them).


class ChangePolicyFacts(Protocol):
    """A team's change policy as stored."""

    team_id: uuid.UUID
    max_changes_per_rep_per_period: int | None
    notice_days: int
    second_approver_above_pct: str
    version: int


class ChangeRequestFacts(Protocol):
    """A change request as stored."""

    id: uuid.UUID
    team_id: uuid.UUID
    period_id: uuid.UUID
    target_id: uuid.UUID
    member_id: uuid.UUID
    origin: str
    absence_id: uuid.UUID | None
    state: str
    currency: str
    old_minor: int
    new_minor: int
    reason: str
    evidence: str | None
    requested_by: str
    approvals: list[dict[str, Any]]
    flags: list[str]
    rationale: str | None
    decided_by: str | None
    decided_at: datetime | None
    disputed_at: datetime | None
    created_at: datetime


class FlaggedLedgerFacts(Protocol):
    """A flagged ledger row as stored."""

    target_id: uuid.UUID
    delta_minor: int
    reason: str
    actor: str | None
    at: datetime


class ChangePolicyRead(_Out):
    """A team's change policy (version 0: the defaults, never set)."""

    team_id: uuid.UUID = Field(examples=[TEAM])
    max_changes_per_rep_per_period: int | None = Field(examples=[2])
    notice_days: int = Field(examples=[0])
    second_approver_above_pct: Decimal = Field(examples=["10"])
    version: int = Field(examples=[1])

    @classmethod
    def of(cls, row: ChangePolicyFacts) -> ChangePolicyRead:
        """Wire form of a change policy row."""
        return cls(
            team_id=row.team_id,
            max_changes_per_rep_per_period=row.max_changes_per_rep_per_period,
            notice_days=row.notice_days,
            second_approver_above_pct=Decimal(row.second_approver_above_pct),
            version=row.version,
        )


class ChangeRequestCreate(BaseModel):
    """Ask for a target to be set to a new amount."""

    amount: NonNegativeAmount = Field(ge=0, examples=["70000.00"])
    reason: str = Field(min_length=1, max_length=1000, examples=["Lost the Acme territory"])
    evidence: str | None = Field(None, max_length=2000, examples=["Territory memo of 3 March"])


class ChangeDecision(BaseModel):
    """An approval (rationale optional) or a refusal (rationale required)."""

    rationale: str | None = Field(None, max_length=2000, examples=["Territory moved to Ben"])


class ApprovalRead(_Out):
    """One approver's signature."""

    approver: str
    senior: bool = Field(description="An admin or a manager of a team above")
    rationale: str | None = None


class ChangeRequestRead(_Out):
    """A change request and where it stands."""

    id: uuid.UUID
    team_id: uuid.UUID = Field(examples=[TEAM])
    period_id: uuid.UUID
    target_id: uuid.UUID = Field(examples=[TARGET])
    member_id: uuid.UUID = Field(examples=[MEMBER])
    origin: Literal["request", "manual_edit", "relief"] = Field(
        description="`request`: asked for; `manual_edit`, `relief`: a flagged edit or relief waiting"
    )
    absence_id: uuid.UUID | None = Field(None, description="Origin relief: the absence it relieves")
    state: ChangeState = Field(examples=["pending"])
    currency: str = Field(examples=["EUR"])
    old_amount: Money = Field(examples=["80000.00"], description="The target when asked")
    new_amount: Money = Field(examples=["70000.00"])
    reason: str
    evidence: str | None = None
    requested_by: str
    approvals: list[ApprovalRead]
    approvals_needed: int = Field(examples=[2])
    flags: list[str] = Field(
        examples=[["above_threshold"]],
        description="`above_threshold`, `manager_incentive`: a second, senior approver is needed",
    )
    rationale: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    dispute_id: uuid.UUID | None = Field(None, description="The target dispute opened from it")
    created_at: datetime

    @classmethod
    def of(cls, row: ChangeRequestFacts) -> ChangeRequestRead:
        """Wire form of a change request row."""
        return cls(
            id=row.id,
            team_id=row.team_id,
            period_id=row.period_id,
            target_id=row.target_id,
            member_id=row.member_id,
            origin=row.origin,
            absence_id=row.absence_id,
            state=row.state,
            currency=row.currency,
            old_amount=from_minor(row.old_minor, row.currency),
            new_amount=from_minor(row.new_minor, row.currency),
            reason=row.reason,
            evidence=row.evidence,
            requested_by=row.requested_by,
            approvals=[
                ApprovalRead(
                    approver=a["approver"], senior=a["senior"], rationale=a.get("rationale")
                )
                for a in row.approvals
            ],
            approvals_needed=2 if row.flags else 1,
            flags=list(row.flags),
            rationale=row.rationale,
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            dispute_id=dispute_id_of(row.id) if row.disputed_at is not None else None,
            created_at=row.created_at,
        )


class DisputeOpened(_Out):
    """The refused request and the dispute feedback opens from it."""

    change_request: ChangeRequestRead
    dispute_id: uuid.UUID = Field(description="GET it from the feedback service")


class ChangesSinceAcknowledgement(_Out):
    """What changed a target since its rep last acknowledged it, and why."""

    target_id: uuid.UUID = Field(examples=[TARGET])
    currency: str
    acknowledged_version: int | None
    version: int
    reacknowledgement_due: bool
    items: list[TargetChangeRead]


class MemberAmount(_Out):
    """One member's total of a kind of adjustment."""

    member_id: uuid.UUID = Field(examples=[MEMBER])
    amount: Money


class ConcentrationRead(_Out):
    """Who got a kind of adjustment and how concentrated it is."""

    total: Money = Field(examples=["12000.00"])
    members: list[MemberAmount]
    top_share: Decimal = Field(examples=["0.75"], description="Share of the member who got most")
    herfindahl: Decimal = Field(
        examples=["0.625"], description="Sum of squared shares: 1/n when even, 1 when one got all"
    )

    @classmethod
    def of(cls, c: Concentration, currency: str) -> ConcentrationRead:
        """Wire form of a concentration (ratios to 4 decimals)."""
        return cls(
            total=from_minor(c.total_minor, currency),
            members=[
                MemberAmount(member_id=m, amount=from_minor(a, currency))
                for m, a in sorted(c.by_member.items(), key=lambda kv: (-kv[1], str(kv[0])))
            ],
            top_share=_ratio(c.top_share),
            herfindahl=_ratio(c.herfindahl),
        )


def _ratio(f: Fraction) -> Decimal:
    return (Decimal(f.numerator) / Decimal(f.denominator)).quantize(Decimal("0.0001"))


class FlaggedChange(_Out):
    """A change the adjustment guard flagged: applied (a ledger row) or waiting (a request)."""

    target_id: uuid.UUID
    member_id: uuid.UUID
    delta: Money
    reason: str
    actor: str | None = None
    status: Literal["applied", "pending", "rejected", "withdrawn"]
    change_request_id: uuid.UUID | None = None
    at: datetime


class AdjustmentProfileRead(_Out):
    """Who got relief or uplift by people's decisions in a period, and what the guard flagged."""

    team_id: uuid.UUID = Field(examples=[TEAM])
    period_id: uuid.UUID
    currency: str
    relief: ConcentrationRead
    uplift: ConcentrationRead
    flagged: list[FlaggedChange]

    @classmethod
    def of(
        cls,
        *,
        team_id: uuid.UUID,
        period_id: uuid.UUID,
        currency: str,
        profile: AdjustmentProfile,
        flagged_rows: Sequence[tuple[FlaggedLedgerFacts, uuid.UUID]],
        flagged_requests: Sequence[ChangeRequestFacts],
    ) -> AdjustmentProfileRead:
        """Wire form of a team's adjustment profile."""
        flagged = [
            FlaggedChange(
                target_id=row.target_id,
                member_id=member_id,
                delta=from_minor(row.delta_minor, currency),
                reason=row.reason,
                actor=row.actor,
                status="applied",
                at=row.at,
            )
            for row, member_id in flagged_rows
        ] + [
            FlaggedChange(
                target_id=r.target_id,
                member_id=r.member_id,
                delta=from_minor(r.new_minor - r.old_minor, currency),
                reason=r.reason,
                actor=r.requested_by,
                status=r.state,
                change_request_id=r.id,
                at=r.created_at,
            )
            for r in flagged_requests
        ]
        return cls(
            team_id=team_id,
            period_id=period_id,
            currency=currency,
            relief=ConcentrationRead.of(profile.relief, currency),
            uplift=ConcentrationRead.of(profile.uplift, currency),
            flagged=flagged,
        )
