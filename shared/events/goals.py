"""Facts the goals service publishes on attain.goals.v1."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.events.base import Event


class CrmIds(BaseModel):
    """A member's owner ids in each CRM."""

    model_config = ConfigDict(frozen=True)

    hubspot: str | None = None
    salesforce: str | None = None
    pipedrive: str | None = None


class TeamCreated(Event):
    """A team was created."""

    TYPE: ClassVar[str] = "attain.goals.team_created.v1"

    team_id: UUID
    name: str
    currency: str
    manager_id: UUID
    # Added within v1: the team above this one, if any.
    parent_team_id: UUID | None = None


class TeamUpdated(Event):
    """A team's name or manager changed."""

    TYPE: ClassVar[str] = "attain.goals.team_updated.v1"

    team_id: UUID
    name: str
    currency: str
    manager_id: UUID
    # Added within v1: the team above this one, if any.
    parent_team_id: UUID | None = None


class _MemberFacts(Event):
    SUBJECT_FIELD: ClassVar[str] = "member_id"

    team_id: UUID
    member_id: UUID
    name: str
    email: str
    capacity: Decimal
    ramp: Decimal
    crm_ids: CrmIds
    version: int
    # Added within v1: pace follows a ramp schedule from starts_on (readers may ignore both).
    starts_on: date | None = None
    ramp_schedule: list[Decimal] | None = None


class MemberJoined(_MemberFacts):
    """A member joined a team."""

    TYPE: ClassVar[str] = "attain.goals.member_joined.v1"
    SEQUENCE_FIELD: ClassVar[str | None] = "version"


class MemberUpdated(_MemberFacts):
    """A member's details (e-mail, CRM ids, capacity) changed."""

    TYPE: ClassVar[str] = "attain.goals.member_updated.v1"
    SEQUENCE_FIELD: ClassVar[str | None] = "version"


class MemberLeft(Event):
    """A member left the team; their open target was redistributed."""

    TYPE: ClassVar[str] = "attain.goals.member_left.v1"
    SUBJECT_FIELD: ClassVar[str] = "member_id"

    team_id: UUID
    member_id: UUID
    left_at: datetime


class PeriodDefined(Event):
    """An org-wide period exists, with its bounds as instants."""

    TYPE: ClassVar[str] = "attain.goals.period_defined.v1"
    KEY_FIELD: ClassVar[str] = "org_id"
    SUBJECT_FIELD: ClassVar[str] = "period_id"

    period_id: UUID
    name: str
    starts_on: date
    ends_on: date
    timezone: str
    starts_at: datetime
    ends_at: datetime
    seasonality: dict[int, Decimal] | None = None


class PlannedTarget(BaseModel):
    """One member's share of a published plan."""

    model_config = ConfigDict(frozen=True)

    target_id: UUID
    member_id: UUID
    amount: Decimal


class PlanPublished(Event):
    """A team plan for a period was published to its members."""

    TYPE: ClassVar[str] = "attain.goals.plan_published.v1"
    SUBJECT_FIELD: ClassVar[str] = "plan_id"
    SEQUENCE_FIELD: ClassVar[str | None] = "version"

    team_id: UUID
    plan_id: UUID
    period_id: UUID
    target: Decimal
    currency: str
    method: str
    version: int
    targets: list[PlannedTarget]


class TargetAssigned(Event):
    """A member was given a target for a period (carries the period, so readers need no call)."""

    TYPE: ClassVar[str] = "attain.goals.target_assigned.v1"
    SUBJECT_FIELD: ClassVar[str] = "target_id"
    SEQUENCE_FIELD: ClassVar[str | None] = "version"

    team_id: UUID
    target_id: UUID
    member_id: UUID
    period_id: UUID
    amount: Decimal
    currency: str
    version: int
    period_starts_at: datetime
    period_ends_at: datetime
    period_timezone: str
    period_seasonality: dict[int, Decimal] | None = None


ChangeReason = Literal[
    "allocation",
    "manual",
    "rebalance",
    "dispute_outcome",
    "member_left",
    "proposal_approved",
    "give_back",
    "relief",
    "joiner",
    "change_request",
]


class TargetChanged(Event):
    """A target's amount changed; version is the target's new version."""

    TYPE: ClassVar[str] = "attain.goals.target_changed.v1"
    SUBJECT_FIELD: ClassVar[str] = "target_id"
    SEQUENCE_FIELD: ClassVar[str | None] = "version"

    team_id: UUID
    target_id: UUID
    member_id: UUID
    period_id: UUID
    old_amount: Decimal
    new_amount: Decimal
    currency: str
    version: int
    reason: ChangeReason
    source_event_id: str | None = None


class Transfer(BaseModel):
    """Target moved from one member to another."""

    model_config = ConfigDict(frozen=True)

    from_member_id: UUID
    to_member_id: UUID
    amount: Decimal


class GiverShare(BaseModel):
    """What one giver of a team rebalance moved, and what stays uncovered."""

    model_config = ConfigDict(frozen=True)

    member_id: UUID
    shortfall_id: UUID | None = None
    requested: Decimal
    moved: Decimal
    uncovered: Decimal
    # Why none of this giver's shortfall was offered (e.g. `no_conversation`), else None.
    held_back: str | None = None


class TargetsRebalanced(Event):
    """Shortfalls were moved between members; the team total is unchanged.

    `givers` lists every giver of the decision; `giver_id` names the one with the largest
    shortfall, for readers written before team decisions.
    """

    TYPE: ClassVar[str] = "attain.goals.targets_rebalanced.v1"
    SUBJECT_FIELD: ClassVar[str] = "rebalance_id"

    team_id: UUID
    rebalance_id: UUID
    period_id: UUID
    giver_id: UUID
    requested: Decimal
    moved: Decimal
    uncovered: Decimal
    currency: str
    transfers: list[Transfer]
    source_event_id: str | None = None
    # `offer`: an offer round settled over the room its receivers accepted.
    applied: Literal["auto", "approved", "offer"]
    givers: list[GiverShare] = []
    # `give_back` when target returns to a recovered giver (transfers then run towards them).
    kind: Literal["shortfall", "give_back"] = "shortfall"


class UpliftOffered(Event):
    """A rep was offered to take up to `offered` of their team's shortfall, until expires_at."""

    TYPE: ClassVar[str] = "attain.goals.uplift_offered.v1"
    SUBJECT_FIELD: ClassVar[str] = "rebalance_id"

    team_id: UUID
    rebalance_id: UUID
    period_id: UUID
    member_id: UUID
    offered: Decimal
    currency: str
    expires_at: datetime


class OfferAccepted(Event):
    """A rep answered their offer: accepted (0 declines) of offered, before it expired."""

    TYPE: ClassVar[str] = "attain.goals.offer_accepted.v1"
    SUBJECT_FIELD: ClassVar[str] = "rebalance_id"

    team_id: UUID
    rebalance_id: UUID
    period_id: UUID
    member_id: UUID
    offered: Decimal
    accepted: Decimal
    currency: str


class TargetAcknowledged(Event):
    """A member acknowledged their published target (at that target version)."""

    TYPE: ClassVar[str] = "attain.goals.target_acknowledged.v1"
    SUBJECT_FIELD: ClassVar[str] = "target_id"

    team_id: UUID
    target_id: UUID
    member_id: UUID
    period_id: UUID
    version: int
    acknowledged_at: datetime


class AbsenceRecorded(Event):
    """A member will be away for whole days; pace does not expect sales from them then."""

    TYPE: ClassVar[str] = "attain.goals.absence_recorded.v1"
    SUBJECT_FIELD: ClassVar[str] = "absence_id"

    team_id: UUID
    absence_id: UUID
    member_id: UUID
    starts_on: date
    ends_on: date
    kind: str


class AbsenceCancelled(Event):
    """A recorded absence was cancelled before it started (any relief was undone)."""

    TYPE: ClassVar[str] = "attain.goals.absence_cancelled.v1"
    SUBJECT_FIELD: ClassVar[str] = "absence_id"

    team_id: UUID
    absence_id: UUID
    member_id: UUID


class _ChangeRequestFacts(Event):
    SUBJECT_FIELD: ClassVar[str] = "change_request_id"

    team_id: UUID
    change_request_id: UUID
    target_id: UUID
    member_id: UUID
    period_id: UUID
    old_amount: Decimal
    new_amount: Decimal
    currency: str
    # `request` (a rep or manager asked), `manual_edit` or `relief` (a flagged edit, or the
    # flagged relief of an absence, waiting).
    origin: Literal["request", "manual_edit", "relief"]
    # `above_threshold`, `manager_incentive`: why a second, senior approver is needed.
    flags: list[str] = []
    reason: str


class ChangeRequested(_ChangeRequestFacts):
    """Someone asked for a target change (or a flagged manual edit or relief awaits approval)."""

    TYPE: ClassVar[str] = "attain.goals.change_requested.v1"

    requested_by: str


class ChangeRequestApproved(_ChangeRequestFacts):
    """A change request got every approval it needs; its target changed through the ledger."""

    TYPE: ClassVar[str] = "attain.goals.change_request_approved.v1"

    approved_by: list[str]


class ChangeRequestRejected(_ChangeRequestFacts):
    """A change request was refused, with the rationale the rep may dispute."""

    TYPE: ClassVar[str] = "attain.goals.change_request_rejected.v1"

    rejected_by: str
    rationale: str


class ChangeRequestDisputed(_ChangeRequestFacts):
    """The rep disputes a refused change request: feedback opens the `target` dispute `dispute_id`."""

    TYPE: ClassVar[str] = "attain.goals.change_request_disputed.v1"

    dispute_id: UUID
    rejected_by: str
    rationale: str
