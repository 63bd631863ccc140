"""Wire models of absences, relief policies and late joiners."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from services.goals.api.schemas import MEMBER, TEAM, Money, PlanFacts, TargetFacts, TargetRead, _Out
from services.goals.handlers.relief import HeldRelief
from shared.money import from_minor

AbsenceKind = Literal["pto", "leave", "training", "other"]
Absorb = Literal["nobody", "team", "pool"]
FundFrom = Literal["team_total", "others", "pool"]


class AbsenceCreate(BaseModel):
    """A member away for whole days (both dates inclusive, in the team's calendar)."""

    starts_on: date = Field(examples=["2025-02-10"])
    ends_on: date = Field(examples=["2025-02-21"])
    kind: AbsenceKind = Field(examples=["leave"])
    note: str | None = Field(None, max_length=500, examples=["parental leave, part 1"])


class ReliefRead(_Out):
    """What an absence relieved in one plan, and where the amount went."""

    plan_id: uuid.UUID
    period_id: uuid.UUID
    target_id: uuid.UUID
    relief: Money = Field(examples=["4166.67"])
    absorb: Absorb
    absorbed: dict[uuid.UUID, Money] = Field(description="Amount each other rep took on")
    pooled: Money = Field(description="Amount put on the plan's unassigned line")
    total_delta: Money = Field(description="Change of the plan's total (negative: lowered)")


class HeldReliefRead(_Out):
    """A flagged relief that waits, as a pending change request, for a senior approver."""

    change_request_id: uuid.UUID
    plan_id: uuid.UUID
    target_id: uuid.UUID
    relief: Money = Field(description="What the approval would relieve the rep of")

    @classmethod
    def of(cls, held: HeldRelief, currency: str) -> HeldReliefRead:
        """Wire form of a held relief."""
        return cls(
            change_request_id=held.change_request_id,
            plan_id=held.plan_id,
            target_id=held.target_id,
            relief=from_minor(held.relief_minor, currency),
        )


class AbsenceFacts(Protocol):
    """An absence as stored: what AbsenceRead reads of it."""

    id: uuid.UUID
    team_id: uuid.UUID
    member_id: uuid.UUID
    starts_on: date
    ends_on: date
    kind: str
    note: str | None
    reliefs: list[dict[str, Any]]
    created_at: datetime


class AbsenceRead(_Out):
    """An absence, the relief it gave, and the relief that waits for a second approver."""

    id: uuid.UUID
    team_id: uuid.UUID = Field(examples=[TEAM])
    member_id: uuid.UUID = Field(examples=[MEMBER])
    starts_on: date
    ends_on: date
    kind: AbsenceKind
    note: str | None = None
    reliefs: list[ReliefRead]
    held_reliefs: list[HeldReliefRead] = Field(
        default_factory=list,
        description="Reliefs flagged `manager_incentive`, pending as change requests",
    )
    created_at: datetime

    @classmethod
    def of(cls, row: AbsenceFacts, currency: str, held: Sequence[HeldRelief] = ()) -> AbsenceRead:
        """Wire form of an absence row."""

        def money(minor: int) -> Decimal:
            return from_minor(minor, currency)

        return cls(
            id=row.id,
            team_id=row.team_id,
            member_id=row.member_id,
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            kind=row.kind,
            note=row.note,
            reliefs=[
                ReliefRead(
                    plan_id=r["plan_id"],
                    period_id=r["period_id"],
                    target_id=r["target_id"],
                    relief=money(r["relief_minor"]),
                    absorb=r["absorb"],
                    absorbed={uuid.UUID(k): money(v) for k, v in r["absorbed"].items()},
                    pooled=money(r["pooled_minor"]),
                    total_delta=money(r["total_delta_minor"]),
                )
                for r in row.reliefs
            ],
            held_reliefs=[HeldReliefRead.of(h, currency) for h in held],
            created_at=row.created_at,
        )


class ReliefPolicyWrite(BaseModel):
    """How the team relieves absent reps."""

    min_days: int = Field(5, ge=0, le=366, description="Working days an absence must last")
    absorb: Absorb = Field("nobody", examples=["team"])


class ReliefPolicyRead(_Out):
    """A team's relief policy."""

    team_id: uuid.UUID = Field(examples=[TEAM])
    min_days: int = Field(examples=[5])
    absorb: Absorb
    version: int


class JoinerCreate(BaseModel):
    """A member who joined after the plan was published."""

    member_id: uuid.UUID = Field(examples=[MEMBER])
    fund_from: FundFrom = Field(examples=["team_total"])


class JoinerRead(_Out):
    """The joiner's new target, the targets that funded it, and the plan after."""

    target: TargetRead
    changed_targets: list[uuid.UUID]
    plan_target: Money
    unassigned: Money

    @classmethod
    def of(cls, plan: PlanFacts, target: TargetFacts, changed: list[uuid.UUID]) -> JoinerRead:
        """Wire form of a joiner result."""
        return cls(
            target=TargetRead.of(target),
            changed_targets=changed,
            plan_target=from_minor(plan.target_minor, plan.currency),
            unassigned=from_minor(plan.unassigned_minor, plan.currency),
        )


class UnassignedAssignment(BaseModel):
    """Part of the unassigned line handed to one rep."""

    member_id: uuid.UUID = Field(examples=[MEMBER])
    amount: Money = Field(examples=["5000.00"])


class UnassignedRead(_Out):
    """The rep's target after the assignment and what stays unassigned."""

    target: TargetRead
    unassigned: Money


class SliceRead(_Out):
    """One month or week of a target."""

    starts_on: date
    ends_on: date
    weight: str = Field(examples=["1/3"], description="Exact share of the target")
    amount: Money = Field(examples=["33333.34"])


class ScheduleRead(_Out):
    """A target cut into slices that add up to it exactly."""

    target_id: uuid.UUID
    grain: Literal["month", "week"]
    amount: Money
    currency: str
    slices: list[SliceRead]
