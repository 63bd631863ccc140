"""Table models of the goals service, on a metadata of its own."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.db import (
    Versioned,
    define_plumbing_tables,
    json_field,
    minor_units,
    new_metadata,
    utc_field,
)
from shared.timeutil import utcnow

metadata = new_metadata()
plumbing = define_plumbing_tables(metadata)


class Base(SQLModel, registry=registry(metadata=metadata)):
    """Base of every goals table model."""

    if TYPE_CHECKING:
        # SQLModel sets the Core table on every table=True model but does not declare it.
        __table__: ClassVar[sa.Table]


class Team(Versioned, Base, table=True):
    """A sales team working in one currency under one manager."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    name: str
    currency: str = Field(max_length=3)
    manager_id: uuid.UUID
    # A region or second-line org above this team; managers of it manage this team too.
    parent_team_id: uuid.UUID | None = Field(default=None, index=True)
    version: int = 1
    created_at: datetime = utc_field(default_factory=utcnow)


class Member(Versioned, Base, table=True):
    """A rep (or manager) on a team's roster; left_at set means they left (soft delete)."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    team_id: uuid.UUID = Field(index=True)
    name: str
    email: str
    # Exact decimals kept as text: FTE and ramp are fractions in [0, 1].
    capacity: str = "1"
    ramp: str = "1"
    # Ramp factors per month since starts_on, exact decimals as text; None: the scalar ramp.
    ramp_schedule: list[str] | None = json_field(default=None)
    starts_on: date | None = None
    crm_hubspot: str | None = None
    crm_salesforce: str | None = None
    crm_pipedrive: str | None = None
    version: int = 1
    left_at: datetime | None = utc_field(default=None)
    created_at: datetime = utc_field(default_factory=utcnow)


class Period(Base, table=True):
    """An org-wide period of whole days in a time zone, with optional monthly seasonality."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    name: str
    starts_on: date
    ends_on: date
    timezone: str = "UTC"
    starts_at: datetime = utc_field()
    ends_at: datetime = utc_field()
    seasonality: dict[str, str] | None = json_field(default=None)
    created_at: datetime = utc_field(default_factory=utcnow)


class PastResult(Base, table=True):
    """What a member achieved in a closed period (imported or learned from performance)."""

    __tablename__ = "past_result"
    __table_args__ = (sa.UniqueConstraint("org_id", "member_id", "starts_on", "ends_on"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    member_id: uuid.UUID = Field(index=True)
    period_name: str
    starts_on: date
    ends_on: date
    achieved_minor: int = minor_units()
    currency: str = Field(max_length=3)
    source: str = "api"
    created_at: datetime = utc_field(default_factory=utcnow)


class Plan(Versioned, Base, table=True):
    """A team's target, strategy and measures for one period; draft until published."""

    __table_args__ = (sa.UniqueConstraint("org_id", "team_id", "period_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    team_id: uuid.UUID = Field(index=True)
    period_id: uuid.UUID = Field(index=True)
    target_minor: int = minor_units()
    currency: str = Field(max_length=3)
    strategy: dict[str, Any] = json_field(default_factory=dict)
    measures: list[Any] = json_field(default_factory=list)
    status: str = "draft"
    method: str | None = None
    params: dict[str, Any] | None = json_field(default=None)
    # Target of the plan nobody carries yet (relief absorbed by the pool): target_minor is
    # always the individual targets plus this line.
    unassigned_minor: int = minor_units(default=0)
    # Child teams' targets add up to round(target x (1 + pct / 100)); exact decimal as text.
    over_assignment_pct: str = "0"
    version: int = 1
    published_at: datetime | None = utc_field(default=None)
    updated_at: datetime = utc_field(default_factory=utcnow)


class Target(Versioned, Base, table=True):
    """One member's individual target in a plan, with how it was derived."""

    __table_args__ = (sa.UniqueConstraint("plan_id", "member_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    plan_id: uuid.UUID = Field(index=True)
    team_id: uuid.UUID = Field(index=True)
    period_id: uuid.UUID = Field(index=True)
    member_id: uuid.UUID = Field(index=True)
    amount_minor: int = minor_units()
    # The amount at publish: the base of the rebalance cap.
    original_minor: int = minor_units()
    currency: str = Field(max_length=3)
    derivation: dict[str, Any] = json_field(default_factory=dict)
    version: int = 1
    acknowledged_at: datetime | None = utc_field(default=None)
    # The version last acknowledged; kept when a change clears acknowledged_at, so the rep
    # sees what changed since.
    acknowledged_version: int | None = None
    updated_at: datetime = utc_field(default_factory=utcnow)


class TargetChange(Base, table=True):
    """One ledger row: a target went from old to new, why, by whom or which event."""

    __tablename__ = "target_change"
    __table_args__ = (sa.UniqueConstraint("target_id", "version"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    target_id: uuid.UUID = Field(index=True)
    version: int
    old_minor: int = minor_units()
    new_minor: int = minor_units()
    delta_minor: int = minor_units()
    reason: str
    note: str | None = None
    actor: str | None = None
    source_event_id: str | None = None
    # `manager_incentive` when the adjustment guard flagged the change.
    flag: str | None = None
    at: datetime = utc_field(default_factory=utcnow)


class MemberStanding(Base, table=True):
    """Latest achieved / projected / status of a member in a period, as performance reported."""

    __tablename__ = "member_standing"

    org_id: uuid.UUID = Field(primary_key=True)
    member_id: uuid.UUID = Field(primary_key=True)
    period_id: uuid.UUID = Field(primary_key=True)
    achieved_minor: int = minor_units()
    projected_minor: int = minor_units()
    status: str
    as_of: datetime = utc_field()


class TeamThresholds(Base, table=True):
    """A team's pace thresholds as performance announced them; the roll-up judges the team by them."""

    __tablename__ = "team_thresholds"

    team_id: uuid.UUID = Field(primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    # Exact decimals kept as text, like performance keeps them.
    at_risk_below: str
    struggling_below: str
    hysteresis: str
    min_elapsed_share: str
    version: int


class RebalancePolicy(Versioned, Base, table=True):
    """How a team answers shortfalls: mode, receiver cap, cooldown and freeze window."""

    __tablename__ = "rebalance_policy"

    team_id: uuid.UUID = Field(primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    mode: str = "propose"
    max_increase_pct: str = "25"
    cooldown_hours: int = 24
    freeze_days_before_end: int = 7
    max_decrease_pct: str = "50"
    give_back: str = "propose"
    require_checkin_before_rebalance: bool = False
    offer_hours: int = 48
    version: int = 1
    updated_at: datetime = utc_field(default_factory=utcnow)


class EpisodeConversation(Base, table=True):
    """The first conversation a manager held with a rep in a shortfall episode (from feedback)."""

    __tablename__ = "episode_conversation"

    org_id: uuid.UUID = Field(primary_key=True)
    shortfall_id: uuid.UUID = Field(primary_key=True)
    member_id: uuid.UUID = Field(index=True)
    team_id: uuid.UUID
    period_id: uuid.UUID
    kind: str
    reference_id: uuid.UUID
    held_at: datetime = utc_field()


class Rebalance(Base, table=True):
    """One team decision on one shortfall event: applied, proposed, approved, rejected, superseded or skipped."""

    __table_args__ = (sa.UniqueConstraint("org_id", "source_event_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    team_id: uuid.UUID = Field(index=True)
    period_id: uuid.UUID
    plan_id: uuid.UUID | None = None
    giver_id: uuid.UUID
    shortfall_id: uuid.UUID | None = None
    source_event_id: str
    # `shortfall` (target moves away from struggling reps) or `give_back` (it returns).
    kind: str = "shortfall"
    status: str
    reason: str | None = None
    currency: str = Field(max_length=3)
    requested_minor: int = minor_units(default=0)
    moved_minor: int = minor_units(default=0)
    uncovered_minor: int = minor_units(default=0)
    transfers: list[dict[str, Any]] = json_field(default_factory=list)
    new_targets: dict[str, int] = json_field(default_factory=dict)
    # target id -> version the plan was computed against (re-checked on approval).
    target_versions: dict[str, int] = json_field(default_factory=dict)
    # Every giver of the decision: member_id, shortfall_id, requested/moved/uncovered_minor.
    givers: list[dict[str, Any]] = json_field(default_factory=list)
    # The team's figures the decision used (member_id, achieved/projected_minor, status), so an
    # approval re-runs it on current targets.
    figures: list[dict[str, Any]] = json_field(default_factory=list)
    as_of: datetime = utc_field()
    created_at: datetime = utc_field(default_factory=utcnow)
    decided_at: datetime | None = utc_field(default=None)
    decided_by: str | None = None
    # Mode `offer` (status `offered` until settled): when the receivers' offers lapse.
    expires_at: datetime | None = utc_field(default=None)


class RebalanceOffer(Versioned, Base, table=True):
    """What one rep was offered of an offer round and how much of it they accepted."""

    __tablename__ = "rebalance_offer"

    rebalance_id: uuid.UUID = Field(primary_key=True)
    member_id: uuid.UUID = Field(primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    offered_minor: int = minor_units()
    # None until the rep answers; 0 declines.
    accepted_minor: int | None = minor_units(default=None, nullable=True)
    answered_at: datetime | None = utc_field(default=None)
    version: int = 1


class Absence(Base, table=True):
    """A member away for whole days (pto, leave, training, other) and what it relieved."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    team_id: uuid.UUID = Field(index=True)
    member_id: uuid.UUID = Field(index=True)
    starts_on: date
    ends_on: date
    kind: str
    note: str | None = None
    # One entry per plan the absence relieved: plan_id, target_id, relief_minor, absorb,
    # absorbed {member_id: minor}, pooled_minor, total_delta_minor (so a cancel undoes it).
    reliefs: list[dict[str, Any]] = json_field(default_factory=list)
    created_by: str | None = None
    created_at: datetime = utc_field(default_factory=utcnow)


class ReliefPolicy(Versioned, Base, table=True):
    """How a team relieves absent reps: the shortest absence that counts and who absorbs it."""

    __tablename__ = "relief_policy"

    team_id: uuid.UUID = Field(primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    min_days: int = 5
    absorb: str = "nobody"
    version: int = 1
    updated_at: datetime = utc_field(default_factory=utcnow)


class ChangePolicy(Versioned, Base, table=True):
    """A team's limits on target change requests."""

    __tablename__ = "change_policy"

    team_id: uuid.UUID = Field(primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    max_changes_per_rep_per_period: int | None = 2
    notice_days: int = 0
    second_approver_above_pct: str = "10"
    version: int = 1
    updated_at: datetime = utc_field(default_factory=utcnow)


class ChangeRequest(Versioned, Base, table=True):
    """A governed request to set a target to a new amount: pending, approved, rejected, withdrawn."""

    __tablename__ = "change_request"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    team_id: uuid.UUID = Field(index=True)
    period_id: uuid.UUID
    plan_id: uuid.UUID
    target_id: uuid.UUID = Field(index=True)
    member_id: uuid.UUID
    # `request` (a rep or manager asked), `manual_edit` (a flagged edit waiting) or `relief`
    # (the flagged relief of an absence waiting).
    origin: str = "request"
    state: str = "pending"
    currency: str = Field(max_length=3)
    old_minor: int = minor_units()
    new_minor: int = minor_units()
    # The target version the request was made against (approval refuses a changed target).
    target_version: int
    # Relief only: the absence whose relief waits (applied, recomputed, on approval).
    absence_id: uuid.UUID | None = Field(default=None, index=True)
    # Manual edits only: whether the others absorb the difference instead of the total.
    team_total_changes: bool = True
    reason: str
    evidence: str | None = None
    requested_by: str
    # Every approval: {approver, senior, at}.
    approvals: list[dict[str, Any]] = json_field(default_factory=list)
    flags: list[str] = json_field(default_factory=list)
    rationale: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = utc_field(default=None)
    disputed_at: datetime | None = utc_field(default=None)
    version: int = 1
    created_at: datetime = utc_field(default_factory=utcnow)
