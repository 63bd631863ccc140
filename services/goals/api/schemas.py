"""Wire models of the goals API (amounts are decimal strings; ids UUIDs; times RFC 3339)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.goals.domain.hierarchy import over_assignment_warnings
from services.goals.handlers.periods import seasonality_of
from services.goals.handlers.shortfalls import givers_of, transfers_of
from shared.bounds import INTEGER_PATTERN, BoundedDecimal
from shared.money import Amount, NonNegativeAmount, from_minor

TEAM = "3f0c9a52-6b1e-4c1e-9d7a-0a3f8f1c2b11"
MEMBER = "9b2d7e44-1c3a-4f0e-8a55-6e2b1d9c7f20"
PERIOD = "c41e6b7a-2d58-4a9f-b3e1-5f7a8c9d0e12"
TARGET = "e7a1c3d5-9b2f-4e68-a0c4-1d3f5b7e9a24"

Money = Amount
#: One line of a plan (an initiative or a measure).
Line = Annotated[str, StringConstraints(max_length=500)]
#: One ramp factor, an exact decimal between 0 and 1.
RampStep = Annotated[BoundedDecimal, Field(ge=0, le=1)]
# Whitespace spelled out: `\s` means different characters to pydantic's regex engine (Rust) and
# to a JavaScript or JSON Schema one (\x85, \ufeff), so the document would promise the wrong set.
_NOT_AT_OR_SPACE = r"[^@\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
Email = Annotated[
    str,
    StringConstraints(
        pattern=rf"^{_NOT_AT_OR_SPACE}+@{_NOT_AT_OR_SPACE}+\.{_NOT_AT_OR_SPACE}+$", max_length=320
    ),
]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# ------------------------------------------------------------------------------------- teams


class TeamCreate(BaseModel):
    """A new team."""

    name: str = Field(min_length=1, max_length=200, examples=["EMEA Enterprise"])
    currency: str = Field(pattern=r"^[A-Z]{3}$", max_length=3, examples=["EUR"])
    manager_id: uuid.UUID = Field(examples=[MEMBER])
    parent_team_id: uuid.UUID | None = Field(
        None, examples=[TEAM], description="The region or org above this team (admin)"
    )


class TeamUpdate(BaseModel):
    """Fields of a team to change (currency is fixed once targets exist)."""

    name: str | None = Field(None, min_length=1, max_length=200, examples=["EMEA Mid-Market"])
    manager_id: uuid.UUID | None = Field(None, examples=[MEMBER])
    parent_team_id: uuid.UUID | None = Field(
        None, examples=[TEAM], description="Admin; null makes the team a root"
    )


class TeamRead(_Out):
    """A team."""

    id: uuid.UUID = Field(examples=[TEAM])
    name: str = Field(examples=["EMEA Enterprise"])
    currency: str = Field(examples=["EUR"])
    manager_id: uuid.UUID = Field(examples=[MEMBER])
    parent_team_id: uuid.UUID | None = None
    version: int = Field(examples=[1])
    created_at: datetime


# ----------------------------------------------------------------------------------- members


class CrmIdsIn(BaseModel):
    """The member's owner id in each CRM (to map incoming sales)."""

    hubspot: str | None = Field(None, max_length=100, examples=["512345"])
    salesforce: str | None = Field(None, max_length=100, examples=["0055e000001AbCdE"])
    pipedrive: str | None = Field(None, max_length=100, examples=["13"])


class MemberCreate(BaseModel):
    """A member joining a team."""

    name: str = Field(min_length=1, max_length=200, examples=["Ada Lovelace"])
    email: Email = Field(examples=["ada@example.com"])
    capacity: BoundedDecimal = Field(
        Decimal(1), ge=0, le=1, examples=["1.0"], description="FTE, 0-1"
    )
    ramp: BoundedDecimal = Field(
        Decimal(1), ge=0, le=1, examples=["0.5"], description="Ramp factor, 0-1"
    )
    starts_on: date | None = Field(None, examples=["2025-01-06"])
    ramp_schedule: list[RampStep] | None = Field(
        None,
        max_length=48,
        examples=[["0.25", "0.5", "0.75", "1"]],
        description="Ramp factor per month since starts_on (the last step holds); overrides ramp",
    )
    crm_ids: CrmIdsIn = Field(default_factory=CrmIdsIn)


class MemberUpdate(BaseModel):
    """Fields of a member to change."""

    name: str | None = Field(None, min_length=1, max_length=200, examples=["Ada King"])
    email: Email | None = Field(None, examples=["ada.king@example.com"])
    capacity: BoundedDecimal | None = Field(None, ge=0, le=1, examples=["0.8"])
    ramp: BoundedDecimal | None = Field(None, ge=0, le=1, examples=["1"])
    starts_on: date | None = Field(None, examples=["2025-01-06"])
    ramp_schedule: list[RampStep] | None = Field(
        None, max_length=48, examples=[["0.5", "1"]], description="[] clears the schedule"
    )
    crm_ids: CrmIdsIn | None = None


class MemberFacts(Protocol):
    """A member as stored: what MemberRead reads of it."""

    id: uuid.UUID
    team_id: uuid.UUID
    name: str
    email: str
    capacity: str
    ramp: str
    starts_on: date | None
    ramp_schedule: list[str] | None
    crm_hubspot: str | None
    crm_salesforce: str | None
    crm_pipedrive: str | None
    version: int
    left_at: datetime | None


class MemberRead(_Out):
    """A member of a team."""

    id: uuid.UUID = Field(examples=[MEMBER])
    team_id: uuid.UUID = Field(examples=[TEAM])
    name: str = Field(examples=["Ada Lovelace"])
    email: str = Field(examples=["ada@example.com"])
    capacity: Decimal = Field(examples=["1"])
    ramp: Decimal = Field(examples=["0.5"])
    starts_on: date | None = Field(None, examples=["2025-01-06"])
    ramp_schedule: list[Decimal] | None = Field(None, examples=[["0.25", "0.5", "0.75", "1"]])
    crm_ids: CrmIdsIn
    version: int = Field(examples=[1])
    active: bool = Field(examples=[True])
    left_at: datetime | None = None

    @classmethod
    def of(cls, row: MemberFacts) -> MemberRead:
        """Wire form of a member row."""
        return cls(
            id=row.id,
            team_id=row.team_id,
            name=row.name,
            email=row.email,
            capacity=Decimal(row.capacity),
            ramp=Decimal(row.ramp),
            starts_on=row.starts_on,
            ramp_schedule=(
                None if row.ramp_schedule is None else [Decimal(v) for v in row.ramp_schedule]
            ),
            crm_ids=CrmIdsIn(
                hubspot=row.crm_hubspot,
                salesforce=row.crm_salesforce,
                pipedrive=row.crm_pipedrive,
            ),
            version=row.version,
            active=row.left_at is None,
            left_at=row.left_at,
        )


class Departure(_Out):
    """A member left; these targets took over their open target."""

    member: MemberRead
    changed_targets: list[uuid.UUID]


# ----------------------------------------------------------------------------------- periods


class PeriodCreate(BaseModel):
    """An org-wide period of whole days."""

    name: str = Field(min_length=1, max_length=100, examples=["2025-Q1"])
    starts_on: date = Field(examples=["2025-01-01"])
    ends_on: date = Field(examples=["2025-03-31"])
    timezone: str = Field("UTC", max_length=64, examples=["Europe/Berlin"])
    seasonality: dict[int, BoundedDecimal] | None = Field(
        None,
        max_length=12 * 20,
        examples=[{"1": "0.3", "2": "0.3", "3": "0.4"}],
        description="Weight per calendar month of the period; must sum to exactly 1",
        json_schema_extra={"propertyNames": {"pattern": INTEGER_PATTERN}},
    )


class PeriodFacts(Protocol):
    """A period as stored: what PeriodRead reads of it."""

    id: uuid.UUID
    name: str
    starts_on: date
    ends_on: date
    timezone: str
    starts_at: datetime
    ends_at: datetime
    seasonality: dict[str, str] | None


class PeriodRead(_Out):
    """A period with its bounds as instants."""

    id: uuid.UUID = Field(examples=[PERIOD])
    name: str = Field(examples=["2025-Q1"])
    starts_on: date
    ends_on: date
    timezone: str = Field(examples=["Europe/Berlin"])
    starts_at: datetime
    ends_at: datetime
    seasonality: dict[int, Decimal] | None = None

    @classmethod
    def of(cls, row: PeriodFacts) -> PeriodRead:
        """Wire form of a period row."""
        return cls(
            id=row.id,
            name=row.name,
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            timezone=row.timezone,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            seasonality=seasonality_of(row),
        )


# ----------------------------------------------------------------------------------- results


class ResultCreate(BaseModel):
    """What a member achieved in a past period."""

    period_name: str = Field(min_length=1, max_length=100, examples=["2024-Q4"])
    starts_on: date = Field(examples=["2024-10-01"])
    ends_on: date = Field(examples=["2024-12-31"])
    achieved: NonNegativeAmount = Field(ge=0, examples=["48250.00"])


class PastResultFacts(Protocol):
    """A past result as stored: what ResultRead reads of it."""

    id: uuid.UUID
    member_id: uuid.UUID
    period_name: str
    starts_on: date
    ends_on: date
    achieved_minor: int
    currency: str
    source: str


class ResultRead(_Out):
    """A past result."""

    id: uuid.UUID
    member_id: uuid.UUID = Field(examples=[MEMBER])
    period_name: str = Field(examples=["2024-Q4"])
    starts_on: date
    ends_on: date
    achieved: Money = Field(examples=["48250.00"])
    currency: str = Field(examples=["EUR"])
    source: Literal["api", "event"] = Field(examples=["api"])

    @classmethod
    def of(cls, row: PastResultFacts) -> ResultRead:
        """Wire form of a result row."""
        return cls(
            id=row.id,
            member_id=row.member_id,
            period_name=row.period_name,
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            achieved=from_minor(row.achieved_minor, row.currency),
            currency=row.currency,
            source=row.source,
        )


# -------------------------------------------------------------------------------------- plans


class Strategy(BaseModel):
    """How the team means to reach the target."""

    summary: str = Field("", max_length=5000, examples=["Land three new logos in DACH"])
    initiatives: list[Line] = Field(
        default_factory=list, max_length=50, examples=[["Partner webinars"]]
    )


class PlanWrite(BaseModel):
    """A plan's target, strategy and productivity measures."""

    target: NonNegativeAmount = Field(ge=0, examples=["250000.00"])
    strategy: Strategy = Field(default_factory=Strategy)
    measures: list[Line] = Field(
        default_factory=list, max_length=50, examples=[["10 discovery calls a week"]]
    )
    over_assignment_pct: BoundedDecimal = Field(
        Decimal(0),
        ge=0,
        le=100,
        examples=["5"],
        description="Child teams' targets add up to target x (1 + pct/100); above 5 warns",
    )


class AllocationParamsIn(BaseModel):
    """Tunables: closed periods used by historical, history weight alpha used by blended."""

    periods: int = Field(4, ge=1, le=20, examples=[4])
    alpha: BoundedDecimal = Field(Decimal("0.5"), ge=0, le=1, examples=["0.5"])


class AllocationRequest(BaseModel):
    """Break the plan target down by a method; dry_run previews without storing."""

    method: Literal["equal", "historical", "capacity", "blended"] = Field(examples=["blended"])
    params: AllocationParamsIn | None = None
    overrides: dict[uuid.UUID, Money] | None = Field(
        None,
        max_length=1000,
        examples=[{MEMBER: "60000.00"}],
        description="Fixed amounts; the rest is re-spread",
    )
    dry_run: bool = Field(False, examples=[True])


class AllocatedTarget(_Out):
    """One member's share of an allocation, with its derivation."""

    member_id: uuid.UUID = Field(examples=[MEMBER])
    target_id: uuid.UUID | None = Field(None, examples=[TARGET])
    amount: Money = Field(examples=["83333.34"])
    derivation: dict[str, Any] = Field(
        examples=[
            {
                "method": "equal",
                "inputs": {},
                "weight": "1",
                "share": "1/3",
                "pool_minor": 25000000,
                "raw_minor": "25000000/3",
                "rounding_adjustment_minor": 1,
                "overridden": False,
            }
        ]
    )


class AllocatedTeam(_Out):
    """One child team's share of a parent team's target, with its derivation."""

    team_id: uuid.UUID = Field(examples=[TEAM])
    plan_id: uuid.UUID | None = None
    amount: Money = Field(examples=["125000.00"])
    derivation: dict[str, Any]


class AllocationRead(_Out):
    """The result (or preview) of an allocation."""

    plan_id: uuid.UUID
    method: str = Field(examples=["equal"])
    dry_run: bool
    target: Money = Field(examples=["250000.00"])
    currency: str = Field(examples=["EUR"])
    targets: list[AllocatedTarget]
    teams: list[AllocatedTeam] = Field(
        default_factory=list, description="A parent team's split over its child teams"
    )
    over_assigned: Money | None = Field(
        None, description="What the child teams' targets add up to (parent teams only)"
    )
    warnings: list[str] = Field(default_factory=list)


class TargetFacts(Protocol):
    """A target as stored: what TargetRead and PlanRead read of it."""

    id: uuid.UUID
    plan_id: uuid.UUID
    team_id: uuid.UUID
    period_id: uuid.UUID
    member_id: uuid.UUID
    amount_minor: int
    original_minor: int
    currency: str
    derivation: dict[str, Any]
    version: int
    acknowledged_at: datetime | None
    acknowledged_version: int | None


class TargetRead(_Out):
    """An individual target and how it was derived."""

    id: uuid.UUID = Field(examples=[TARGET])
    plan_id: uuid.UUID
    team_id: uuid.UUID = Field(examples=[TEAM])
    period_id: uuid.UUID = Field(examples=[PERIOD])
    member_id: uuid.UUID = Field(examples=[MEMBER])
    amount: Money = Field(examples=["83333.34"])
    original: Money = Field(examples=["83333.34"], description="Amount when the plan was published")
    currency: str = Field(examples=["EUR"])
    derivation: dict[str, Any]
    version: int = Field(examples=[1])
    acknowledged_at: datetime | None = None
    acknowledged_version: int | None = Field(
        None, description="The version the rep last acknowledged (kept when a change clears it)"
    )
    reacknowledgement_due: bool = Field(
        False, description="Acknowledged once, changed since: the rep should acknowledge again"
    )

    @classmethod
    def of(cls, row: TargetFacts) -> TargetRead:
        """Wire form of a target row."""
        return cls(
            id=row.id,
            plan_id=row.plan_id,
            team_id=row.team_id,
            period_id=row.period_id,
            member_id=row.member_id,
            amount=from_minor(row.amount_minor, row.currency),
            original=from_minor(row.original_minor, row.currency),
            currency=row.currency,
            derivation=row.derivation,
            version=row.version,
            acknowledged_at=row.acknowledged_at,
            acknowledged_version=row.acknowledged_version,
            reacknowledgement_due=_reacknowledgement_due(row),
        )


def _reacknowledgement_due(row: TargetFacts) -> bool:
    return row.acknowledged_at is None and row.acknowledged_version is not None


class PlanFacts(Protocol):
    """A plan as stored: what PlanRead and JoinerRead read of it."""

    id: uuid.UUID
    team_id: uuid.UUID
    period_id: uuid.UUID
    target_minor: int
    currency: str
    strategy: dict[str, Any]
    measures: list[Any]
    status: str
    method: str | None
    params: dict[str, Any] | None
    unassigned_minor: int
    over_assignment_pct: str
    version: int
    published_at: datetime | None


class PlanRead(_Out):
    """A plan with every individual target and who acknowledged it."""

    id: uuid.UUID
    team_id: uuid.UUID = Field(examples=[TEAM])
    period_id: uuid.UUID = Field(examples=[PERIOD])
    target: Money = Field(examples=["250000.00"])
    currency: str = Field(examples=["EUR"])
    strategy: Strategy
    measures: list[str]
    status: Literal["draft", "published"] = Field(examples=["published"])
    method: str | None = Field(None, examples=["blended"])
    params: dict[str, Any] | None = None
    version: int = Field(examples=[3])
    published_at: datetime | None = None
    unassigned: Money = Field(
        Decimal(0),
        examples=["0.00"],
        description="Target nobody carries yet (relief put on the pool); target = targets + this",
    )
    over_assignment_pct: Decimal = Field(Decimal(0), examples=["0"])
    warnings: list[str] = Field(default_factory=list)
    targets: list[TargetRead]
    acknowledged: list[uuid.UUID] = Field(description="Members who acknowledged their target")
    not_acknowledged: list[uuid.UUID] = Field(description="Members who have not yet")
    not_reacknowledged: list[uuid.UUID] = Field(
        default_factory=list,
        description="Members who acknowledged, saw their target change, and have not again",
    )

    @classmethod
    def of(
        cls, plan: PlanFacts, targets: Sequence[TargetFacts], active: set[uuid.UUID]
    ) -> PlanRead:
        """Wire form of a plan and its targets (targets of members who left are kept)."""
        mine = [t for t in targets if t.member_id in active]
        return cls(
            id=plan.id,
            team_id=plan.team_id,
            period_id=plan.period_id,
            target=from_minor(plan.target_minor, plan.currency),
            currency=plan.currency,
            strategy=Strategy.model_validate(plan.strategy or {}),
            measures=list(plan.measures or []),
            status=plan.status,
            method=plan.method,
            params=plan.params,
            version=plan.version,
            published_at=plan.published_at,
            unassigned=from_minor(plan.unassigned_minor, plan.currency),
            over_assignment_pct=Decimal(plan.over_assignment_pct),
            warnings=over_assignment_warnings(Decimal(plan.over_assignment_pct)),
            targets=[TargetRead.of(t) for t in targets],
            acknowledged=[t.member_id for t in mine if t.acknowledged_at is not None],
            not_acknowledged=[t.member_id for t in mine if t.acknowledged_at is None],
            not_reacknowledged=[t.member_id for t in mine if _reacknowledgement_due(t)],
        )


class TargetEdit(BaseModel):
    """A manager's manual change of one target."""

    amount: NonNegativeAmount = Field(ge=0, examples=["90000.00"])
    reason: str = Field(min_length=1, max_length=1000, examples=["Takes over the Acme account"])
    team_total_changes: bool = Field(
        False,
        description="False: the difference is re-spread over the others (team total kept). "
        "True: the plan's team target moves by the difference instead.",
    )


class TargetChangeFacts(Protocol):
    """A ledger row as stored: what TargetChangeRead reads of it."""

    version: int
    old_minor: int
    new_minor: int
    delta_minor: int
    reason: str
    note: str | None
    actor: str | None
    source_event_id: str | None
    flag: str | None
    at: datetime


class TargetChangeRead(_Out):
    """One row of a target's ledger."""

    version: int = Field(examples=[2])
    old: Money = Field(examples=["83333.34"])
    new: Money = Field(examples=["90000.00"])
    delta: Money = Field(examples=["6666.66"])
    reason: str = Field(examples=["manual"])
    note: str | None = Field(None, examples=["Takes over the Acme account"])
    actor: str | None = Field(None, examples=[MEMBER])
    source_event_id: str | None = None
    flag: str | None = Field(None, examples=["manager_incentive"])
    at: datetime

    @classmethod
    def of(cls, row: TargetChangeFacts, currency: str) -> TargetChangeRead:
        """Wire form of a ledger row."""
        return cls(
            version=row.version,
            old=from_minor(row.old_minor, currency),
            new=from_minor(row.new_minor, currency),
            delta=from_minor(row.delta_minor, currency),
            reason=row.reason,
            note=row.note,
            actor=row.actor,
            source_event_id=row.source_event_id,
            flag=row.flag,
            at=row.at,
        )


# -------------------------------------------------------------------------------- rebalancing


RebalanceMode = Literal["auto", "propose", "offer", "off"]


class PolicyWrite(BaseModel):
    """A team's rebalance policy."""

    mode: RebalanceMode = Field(
        examples=["propose"],
        description="`offer`: on-track reps are offered uplift and only what they accept moves.",
    )
    max_increase_pct: BoundedDecimal = Field(Decimal(25), ge=0, le=1000, examples=["25"])
    cooldown_hours: int = Field(24, ge=0, le=24 * 90, examples=[24])
    freeze_days_before_end: int = Field(7, ge=0, le=366, examples=[7])
    max_decrease_pct: BoundedDecimal = Field(
        Decimal(50),
        ge=0,
        le=100,
        examples=["50"],
        description="Most of a giver's original target that rebalancing may move in a period.",
    )
    give_back: Literal["auto", "propose", "off"] = Field(
        "propose",
        examples=["propose"],
        description="When a giver recovers: hand back what their episode moved away.",
    )
    require_checkin_before_rebalance: bool = Field(
        False,
        examples=[False],
        description=(
            "Move a struggling rep's target only once a conversation was held in their episode "
            "(a check-in answered or a 1:1 held) and they are still short; until then they are "
            "held back with `held_back: no_conversation`."
        ),
    )
    offer_hours: int = Field(
        48,
        ge=0,
        le=24 * 31,
        examples=[48],
        description="Mode offer: how long reps have to accept their offers.",
    )


class RebalancePolicyFacts(Protocol):
    """A rebalance policy as stored: what PolicyRead reads of it."""

    team_id: uuid.UUID
    mode: str
    max_increase_pct: str
    cooldown_hours: int
    freeze_days_before_end: int
    max_decrease_pct: str
    give_back: str
    require_checkin_before_rebalance: bool
    offer_hours: int
    version: int


class PolicyRead(_Out):
    """A team's rebalance policy (defaults when never set)."""

    team_id: uuid.UUID = Field(examples=[TEAM])
    mode: RebalanceMode = Field(examples=["propose"])
    max_increase_pct: BoundedDecimal = Field(examples=["25"])
    cooldown_hours: int = Field(examples=[24])
    freeze_days_before_end: int = Field(examples=[7])
    max_decrease_pct: Decimal = Field(examples=["50"])
    give_back: Literal["auto", "propose", "off"] = Field(examples=["propose"])
    require_checkin_before_rebalance: bool = Field(False, examples=[False])
    offer_hours: int = Field(48, examples=[48])
    version: int = Field(examples=[1])

    @classmethod
    def of(cls, row: RebalancePolicyFacts) -> PolicyRead:
        """Wire form of a policy row."""
        return cls(
            team_id=row.team_id,
            mode=row.mode,
            max_increase_pct=Decimal(row.max_increase_pct),
            cooldown_hours=row.cooldown_hours,
            freeze_days_before_end=row.freeze_days_before_end,
            max_decrease_pct=Decimal(row.max_decrease_pct),
            give_back=row.give_back,
            require_checkin_before_rebalance=row.require_checkin_before_rebalance,
            offer_hours=row.offer_hours,
            version=row.version,
        )


class TransferRead(_Out):
    """Target moved from one member to another."""

    from_member_id: uuid.UUID
    to_member_id: uuid.UUID
    amount: Money = Field(examples=["1250.00"])


class GiverRead(_Out):
    """One giver of a team rebalance: moved + uncovered == requested."""

    member_id: uuid.UUID = Field(examples=[MEMBER])
    shortfall_id: uuid.UUID | None = None
    requested: Money = Field(examples=["5000.00"])
    moved: Money = Field(examples=["4000.00"])
    uncovered: Money = Field(examples=["1000.00"])
    held_back: str | None = Field(
        None,
        examples=[None],
        description="Why none of this giver's shortfall was offered (`no_conversation`).",
    )


class RebalanceOfferFacts(Protocol):
    """An offer as stored: what OfferRead reads of it."""

    member_id: uuid.UUID
    offered_minor: int
    accepted_minor: int | None
    answered_at: datetime | None


class OfferRead(_Out):
    """What one rep was offered of an offer round and what they accepted (null: no answer yet)."""

    member_id: uuid.UUID = Field(examples=[MEMBER])
    offered: Money = Field(examples=["12500.00"])
    accepted: Money | None = Field(None, examples=["5000.00"])
    answered_at: datetime | None = None

    @classmethod
    def of(cls, row: RebalanceOfferFacts, currency: str) -> OfferRead:
        """Wire form of an offer row."""
        return cls(
            member_id=row.member_id,
            offered=from_minor(row.offered_minor, currency),
            accepted=None
            if row.accepted_minor is None
            else from_minor(row.accepted_minor, currency),
            answered_at=row.answered_at,
        )


class OfferAcceptance(BaseModel):
    """How much of the offer the rep takes (0 declines; at most what was offered)."""

    amount: NonNegativeAmount = Field(ge=0, examples=["5000.00"])


class RebalanceFacts(Protocol):
    """A rebalance as stored: what RebalanceRead reads of it."""

    id: uuid.UUID
    team_id: uuid.UUID
    period_id: uuid.UUID
    giver_id: uuid.UUID
    shortfall_id: uuid.UUID | None
    source_event_id: str
    kind: str
    status: str
    reason: str | None
    currency: str
    requested_minor: int
    moved_minor: int
    uncovered_minor: int
    transfers: list[dict[str, Any]]
    givers: list[dict[str, Any]]
    as_of: datetime
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    expires_at: datetime | None


class RebalanceRead(_Out):
    """One team decision: every giver's shortfall, what moved, what stayed uncovered, its status.

    `giver_id` and `shortfall_id` name the giver with the largest shortfall; `givers` lists all.
    """

    id: uuid.UUID
    team_id: uuid.UUID = Field(examples=[TEAM])
    period_id: uuid.UUID = Field(examples=[PERIOD])
    giver_id: uuid.UUID = Field(examples=[MEMBER])
    shortfall_id: uuid.UUID | None = None
    source_event_id: str
    kind: Literal["shortfall", "give_back"] = Field("shortfall", examples=["shortfall"])
    status: Literal[
        "applied", "proposed", "offered", "approved", "rejected", "superseded", "skipped"
    ] = Field(examples=["proposed"])
    reason: str | None = Field(None, examples=["cooldown"])
    requested: Money = Field(examples=["5000.00"])
    moved: Money = Field(examples=["4000.00"])
    uncovered: Money = Field(examples=["1000.00"])
    currency: str = Field(examples=["EUR"])
    transfers: list[TransferRead]
    givers: list[GiverRead] = []
    as_of: datetime
    created_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None
    # Mode offer: until when the reps may answer, and each rep's offer (a rep sees their own).
    expires_at: datetime | None = None
    offers: list[OfferRead] = []

    @classmethod
    def of(cls, row: RebalanceFacts, offers: Sequence[RebalanceOfferFacts] = ()) -> RebalanceRead:
        """Wire form of a rebalance row."""
        return cls(
            id=row.id,
            team_id=row.team_id,
            period_id=row.period_id,
            giver_id=row.giver_id,
            shortfall_id=row.shortfall_id,
            source_event_id=row.source_event_id,
            kind=row.kind,
            status=row.status,
            reason=row.reason,
            requested=from_minor(row.requested_minor, row.currency),
            moved=from_minor(row.moved_minor, row.currency),
            uncovered=from_minor(row.uncovered_minor, row.currency),
            currency=row.currency,
            transfers=[
                TransferRead(from_member_id=giver, to_member_id=taker, amount=amount)
                for giver, taker, amount in transfers_of(row)
            ],
            givers=[GiverRead(**g.model_dump()) for g in givers_of(row)],
            as_of=row.as_of,
            created_at=row.created_at,
            decided_at=row.decided_at,
            decided_by=row.decided_by,
            expires_at=row.expires_at,
            offers=[OfferRead.of(o, row.currency) for o in offers],
        )


class StatementLineRead(_Out):
    """One amount moved to or from the rep by a rebalance or give-back."""

    rebalance_id: uuid.UUID
    kind: Literal["shortfall", "give_back"] = Field(examples=["shortfall"])
    counterparty_id: uuid.UUID = Field(examples=[MEMBER])
    amount: Money = Field(
        examples=["-2500.00"], description="Negative: given away; positive: received."
    )
    source_event_id: str
    at: datetime


class TransferStatementRead(_Out):
    """Why a rep's number is not what they acknowledged: every rebalancing move, netted."""

    member_id: uuid.UUID = Field(examples=[MEMBER])
    period_id: uuid.UUID = Field(examples=[PERIOD])
    currency: str = Field(examples=["EUR"])
    given: Money = Field(examples=["2500.00"])
    received: Money = Field(examples=["0.00"])
    net: Money = Field(examples=["-2500.00"])
    lines: list[StatementLineRead]

    @classmethod
    def of(
        cls, member_id: uuid.UUID, period_id: uuid.UUID, currency: str, lines: list[Any]
    ) -> TransferStatementRead:
        """Wire form of a rep's transfer statement."""
        given = -sum(line.amount_minor for line in lines if line.amount_minor < 0)
        received = sum(line.amount_minor for line in lines if line.amount_minor > 0)
        return cls(
            member_id=member_id,
            period_id=period_id,
            currency=currency,
            given=from_minor(given, currency),
            received=from_minor(received, currency),
            net=from_minor(received - given, currency),
            lines=[
                StatementLineRead(
                    rebalance_id=line.rebalance.id,
                    kind=line.rebalance.kind,
                    counterparty_id=line.counterparty_id,
                    amount=from_minor(line.amount_minor, currency),
                    source_event_id=line.rebalance.source_event_id,
                    at=line.rebalance.decided_at or line.rebalance.created_at,
                )
                for line in lines
            ],
        )
