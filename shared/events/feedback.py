"""Facts the feedback service publishes on attain.feedback.v1."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.bounds import BoundedDecimal
from shared.events.base import Event
from shared.money import Amount


class DisputeOpened(Event):
    """A dispute was opened between parties of a team."""

    TYPE: ClassVar[str] = "attain.feedback.dispute_opened.v1"
    SUBJECT_FIELD: ClassVar[str] = "dispute_id"

    team_id: UUID
    dispute_id: UUID
    kind: str
    subject: str
    parties: list[UUID]
    related: dict[str, str] | None = None
    escalated: bool = False


class StatementSubmitted(Event):
    """A party submitted (or revised) their statement; the text stays private."""

    TYPE: ClassVar[str] = "attain.feedback.statement_submitted.v1"
    SUBJECT_FIELD: ClassVar[str] = "dispute_id"

    team_id: UUID
    dispute_id: UUID
    party_id: UUID
    version: int


class WaiverRecorded(Event):
    """A manager recorded why a party could not be heard; the party is notified."""

    TYPE: ClassVar[str] = "attain.feedback.waiver_recorded.v1"
    SUBJECT_FIELD: ClassVar[str] = "dispute_id"

    team_id: UUID
    dispute_id: UUID
    party_id: UUID
    reason: str


def _type_is_required(schema: dict[str, Any]) -> None:
    """Input must name its `type` (the union's discriminator), though the model has a default."""
    schema["required"] = ["type", *(f for f in schema.get("required", []) if f != "type")]


class AdjustTarget(BaseModel):
    """Change a member's target for a period by delta."""

    model_config = ConfigDict(frozen=True, json_schema_extra=_type_is_required)

    type: Literal["adjust_target"] = "adjust_target"
    member_id: UUID
    period_id: UUID
    delta: Amount
    team_total_changes: bool = False


class ReassignSaleCredit(BaseModel):
    """Move percent of a sale's credit to another member."""

    model_config = ConfigDict(frozen=True, json_schema_extra=_type_is_required)

    type: Literal["reassign_sale_credit"] = "reassign_sale_credit"
    sale_id: UUID
    to_member_id: UUID
    percent: BoundedDecimal


DisputeAction = Annotated[AdjustTarget | ReassignSaleCredit, Field(discriminator="type")]


class DisputeResolved(Event):
    """A dispute was decided after every party was heard; actions are for goals/performance."""

    TYPE: ClassVar[str] = "attain.feedback.dispute_resolved.v1"
    SUBJECT_FIELD: ClassVar[str] = "dispute_id"

    team_id: UUID
    dispute_id: UUID
    decided_by: str
    summary: str
    rationale: str
    actions: list[DisputeAction]
    resolution_type: str | None = None


class DisputeClosed(Event):
    """A decided dispute closed: every party responded, or the response window ran out."""

    TYPE: ClassVar[str] = "attain.feedback.dispute_closed.v1"
    SUBJECT_FIELD: ClassVar[str] = "dispute_id"

    team_id: UUID
    dispute_id: UUID
    accepted_by: list[UUID]
    disagreed_by: list[UUID]
    no_response: list[UUID]


class DisputeWithdrawn(Event):
    """The opener withdrew a dispute before it was decided."""

    TYPE: ClassVar[str] = "attain.feedback.dispute_withdrawn.v1"
    SUBJECT_FIELD: ClassVar[str] = "dispute_id"

    team_id: UUID
    dispute_id: UUID
    withdrawn_by: str


class CheckInOpened(Event):
    """A coaching check-in was opened for a struggling member."""

    TYPE: ClassVar[str] = "attain.feedback.check_in_opened.v1"
    SUBJECT_FIELD: ClassVar[str] = "member_id"

    team_id: UUID
    feedback_id: UUID
    member_id: UUID
    shortfall_id: UUID


class DisputeOverdue(Event):
    """A deadline of the team's dispute policy passed: parties unheard, or no decision yet."""

    TYPE: ClassVar[str] = "attain.feedback.dispute_overdue.v1"
    SUBJECT_FIELD: ClassVar[str] = "dispute_id"

    team_id: UUID
    dispute_id: UUID
    deadline: Literal["statement", "decision"]
    due_at: datetime
    late_parties: list[UUID]


class OneOnOneProposed(Event):
    """A 1:1 was proposed for a rep, e.g. because a shortfall check-in opened for them."""

    TYPE: ClassVar[str] = "attain.feedback.one_on_one_proposed.v1"
    SUBJECT_FIELD: ClassVar[str] = "one_on_one_id"

    team_id: UUID
    one_on_one_id: UUID
    member_id: UUID
    scheduled_at: datetime
    shortfall_id: UUID | None = None


class ConversationHeld(Event):
    """A manager talked with a rep: a 1:1 was held or a check-in answered."""

    TYPE: ClassVar[str] = "attain.feedback.conversation_held.v1"
    SUBJECT_FIELD: ClassVar[str] = "member_id"

    team_id: UUID
    member_id: UUID
    kind: Literal["one_on_one_held", "check_in_answered"]
    reference_id: UUID
    held_at: datetime
    # The shortfall episode the conversation falls in, when the rep is in one (one event per
    # open episode): goals may wait for it before moving the rep's target.
    shortfall_id: UUID | None = None
    period_id: UUID | None = None


class ActionItemOverdue(Event):
    """An open action item passed its due date (announced once per item)."""

    TYPE: ClassVar[str] = "attain.feedback.action_item_overdue.v1"
    SUBJECT_FIELD: ClassVar[str] = "action_item_id"

    team_id: UUID
    action_item_id: UUID
    owner_id: UUID
    description: str
    due_on: date
    source: Literal["one_on_one", "meeting"]
    source_id: UUID


class InquiryEscalated(Event):
    """A rep did not accept the manager's answer to their inquiry: it became a dispute."""

    TYPE: ClassVar[str] = "attain.feedback.inquiry_escalated.v1"
    SUBJECT_FIELD: ClassVar[str] = "dispute_id"

    team_id: UUID
    dispute_id: UUID
    kind: str


class InformationRequested(Event):
    """The decider asked a party of a dispute for information (the question stays private)."""

    TYPE: ClassVar[str] = "attain.feedback.information_requested.v1"
    SUBJECT_FIELD: ClassVar[str] = "dispute_id"

    team_id: UUID
    dispute_id: UUID
    request_id: UUID
    party_id: UUID


class InformationRequestClosed(Event):
    """A dispute's information request was answered by its party or waived by the decider."""

    TYPE: ClassVar[str] = "attain.feedback.information_request_closed.v1"
    SUBJECT_FIELD: ClassVar[str] = "dispute_id"

    team_id: UUID
    dispute_id: UUID
    request_id: UUID
    party_id: UUID
    outcome: Literal["answered", "waived"]


class IntelShared(Event):
    """A team member shared market intelligence, possibly about a competitor and some deals."""

    TYPE: ClassVar[str] = "attain.feedback.intel_shared.v1"
    SUBJECT_FIELD: ClassVar[str] = "intel_id"

    team_id: UUID
    intel_id: UUID
    kind: str
    title: str
    tags: list[str]
    competitor: str | None = None
    sale_ids: list[UUID] = Field(default_factory=list)
    author_id: UUID | None = None
    shared_at: datetime
