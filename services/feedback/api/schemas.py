"""Wire models of the feedback API (apart from the table models)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any, Literal, Protocol
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field, StrictBool, StringConstraints

from services.feedback.domain import dispute as domain
from services.feedback.domain.dispute import AuditEntry, Decision, DisputeView
from services.feedback.handlers.meetings import next_occurrence
from shared.events.feedback import AdjustTarget, DisputeAction, ReassignSaleCredit

DisputeKindIn = Literal["target", "sale_credit", "conduct", "other", "inquiry"]
ResolutionType = Literal["upheld", "partially_upheld", "rejected", "settled", "no_finding"]
DisputeStateIn = Literal["open", "hearing", "pending_information", "decided", "closed", "withdrawn"]
_EX_ID = "3f1c2b7e-9a4d-4c55-8f0e-1b2c3d4e5f60"
_EX_ID2 = "7d9e8f10-1a2b-4c3d-9e8f-0a1b2c3d4e5f"


class RelatedRef(BaseModel):
    """What the dispute is about: a target or a sale."""

    target_id: UUID | None = Field(None, examples=[_EX_ID])
    sale_id: UUID | None = Field(None, examples=[None])

    def as_dict(self) -> dict[str, UUID]:
        """The references that are set."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class DisputeCreate(BaseModel):
    """Open a dispute between members of a team."""

    team_id: UUID = Field(examples=[_EX_ID])
    kind: DisputeKindIn = Field(examples=["sale_credit"])
    subject: str = Field(min_length=1, max_length=300, examples=["Who closed the ACME deal?"])
    parties: list[UUID] = Field(min_length=1, max_length=50, examples=[[_EX_ID, _EX_ID2]])
    related: RelatedRef | None = Field(None, examples=[{"sale_id": _EX_ID}])


class StatementCreate(BaseModel):
    """A party's statement (a new version replaces the previous one; history is kept)."""

    text: str = Field(min_length=1, max_length=20000, examples=["I sourced the lead in March."])


class InformationRequestCreate(BaseModel):
    """A question to one party; the decision waits until it is answered or waived."""

    party_id: UUID = Field(examples=[_EX_ID])
    question: str = Field(min_length=1, max_length=5000, examples=["Who set up the first demo?"])


class InformationAnswer(BaseModel):
    """The asked party's answer."""

    answer: str = Field(min_length=1, max_length=20000, examples=["I did, on 3 March."])


class InformationWaiver(BaseModel):
    """Why the decider stops waiting for an answer."""

    reason: str = Field(
        min_length=1, max_length=5000, examples=["On leave until after the deadline"]
    )


class WaiverCreate(BaseModel):
    """Why a party cannot be heard."""

    party_id: UUID = Field(examples=[_EX_ID])
    reason: str = Field(min_length=1, max_length=2000, examples=["On parental leave until June"])


class DecisionCreate(BaseModel):
    """The decision, its rationale, and what goals and performance should apply."""

    summary: str = Field(min_length=1, max_length=2000, examples=["Credit is split 50/50"])
    rationale: str = Field(
        min_length=1, max_length=20000, examples=["Both reps worked the account; see statements."]
    )
    actions: list[DisputeAction] = Field(
        default_factory=list,
        max_length=50,
        examples=[
            [
                {
                    "type": "reassign_sale_credit",
                    "sale_id": _EX_ID,
                    "to_member_id": _EX_ID2,
                    "percent": "50",
                }
            ]
        ],
    )
    resolution_type: ResolutionType | None = Field(
        None, description="How the dispute ended, for reporting", examples=["partially_upheld"]
    )


class ResponseCreate(BaseModel):
    """A party's answer to the decision."""

    accepts: StrictBool = Field(examples=[False])
    comment: str | None = Field(None, max_length=5000, examples=["I still think I sourced it."])


class StatementRead(BaseModel):
    """One version of a statement."""

    party_id: UUID
    version: int
    text: str
    submitted_at: datetime


class WaiverRead(BaseModel):
    """A waiver for a party who could not be heard."""

    party_id: UUID
    reason: str
    recorded_at: datetime
    recorded_by: str


class DecisionRead(BaseModel):
    """The decision (visible to every party once made)."""

    summary: str
    rationale: str
    actions: list[DisputeAction]
    decided_at: datetime
    decided_by: str
    resolution_type: str | None = None

    @classmethod
    def from_domain(cls, decision: Decision) -> DecisionRead:
        """Map the domain decision."""
        actions: list[DisputeAction] = []
        for a in decision.actions:
            if isinstance(a, domain.ReassignSaleCredit):
                actions.append(
                    ReassignSaleCredit(
                        sale_id=a.sale_id, to_member_id=a.to_member_id, percent=a.percent
                    )
                )
            else:
                actions.append(
                    AdjustTarget(
                        member_id=a.member_id,
                        period_id=a.period_id,
                        delta=a.delta,
                        team_total_changes=a.team_total_changes,
                    )
                )
        return cls(
            summary=decision.summary,
            rationale=decision.rationale,
            actions=actions,
            decided_at=decision.decided_at,
            decided_by=decision.decided_by_sub,
            resolution_type=decision.resolution_type,
        )


class ResponseRead(BaseModel):
    """A party's answer to the decision."""

    party_id: UUID
    accepts: bool
    comment: str | None
    responded_at: datetime


class InformationRequestRead(BaseModel):
    """A question the decider put to a party (seen by the decider and that party)."""

    id: UUID
    party_id: UUID
    question: str
    asked_at: datetime
    status: Literal["open", "answered", "waived"]
    answer: str | None
    waived_reason: str | None
    closed_at: datetime | None


class DisputeRead(BaseModel):
    """A dispute as the caller may see it."""

    id: UUID = Field(examples=[_EX_ID])
    team_id: UUID
    kind: str = Field(examples=["sale_credit"])
    subject: str
    parties: list[UUID]
    related: dict[str, UUID] | None
    state: str = Field(examples=["hearing"])
    escalated: bool = Field(description="A manager of the team is a party: only an admin decides")
    opened_by: UUID | None
    opened_at: datetime
    statements: list[StatementRead] = Field(
        description="Only the caller's own, unless the caller decides"
    )
    waivers: list[WaiverRead]
    missing_parties: list[UUID] | None = Field(
        None, description="Parties not yet heard (shown to whoever decides)"
    )
    decision: DecisionRead | None
    responses: list[ResponseRead]
    closed_at: datetime | None
    closed_reason: str | None
    version: int
    statement_due_at: datetime | None = Field(
        None, description="Statements are due by then (the team's dispute policy at opening)"
    )
    decision_due_at: datetime | None = Field(None, description="The decision is due by then")
    information_requests: list[InformationRequestRead] = Field(
        default_factory=list, description="Only the caller's own, unless the caller decides"
    )
    inquiry_answer: DecisionRead | None = Field(
        None, description="The answer the rep did not accept, when an inquiry became a dispute"
    )

    @classmethod
    def from_view(cls, view: DisputeView, version: int) -> DisputeRead:
        """Map what the domain lets the caller see."""
        return cls(
            id=view.id,
            team_id=view.team_id,
            kind=view.kind.value,
            subject=view.subject,
            parties=list(view.parties),
            related=view.related,
            state=view.state.value,
            escalated=view.escalated,
            opened_by=view.opened_by,
            opened_at=view.opened_at,
            statements=[
                StatementRead(
                    party_id=s.party_id, version=s.version, text=s.text, submitted_at=s.submitted_at
                )
                for s in view.statements
            ],
            waivers=[
                WaiverRead(
                    party_id=w.party_id,
                    reason=w.reason,
                    recorded_at=w.recorded_at,
                    recorded_by=w.recorded_by_sub,
                )
                for w in view.waivers
            ],
            missing_parties=list(view.missing_parties)
            if view.missing_parties is not None
            else None,
            decision=DecisionRead.from_domain(view.decision) if view.decision else None,
            responses=[
                ResponseRead(
                    party_id=r.party_id,
                    accepts=r.accepts,
                    comment=r.comment,
                    responded_at=r.responded_at,
                )
                for r in view.responses
            ],
            closed_at=view.closed_at,
            closed_reason=view.closed_reason,
            version=version,
            statement_due_at=view.statement_due_at,
            decision_due_at=view.decision_due_at,
            information_requests=[
                InformationRequestRead(
                    id=r.id,
                    party_id=r.party_id,
                    question=r.question,
                    asked_at=r.asked_at,
                    status="open" if r.open else ("waived" if r.waived_reason else "answered"),
                    answer=r.answer,
                    waived_reason=r.waived_reason,
                    closed_at=r.closed_at,
                )
                for r in view.information_requests
            ],
            inquiry_answer=(
                DecisionRead.from_domain(view.inquiry_answer) if view.inquiry_answer else None
            ),
        )


class AuditEntryRead(BaseModel):
    """Who did what to the dispute, when (never statement text)."""

    at: datetime
    actor: str = Field(examples=[_EX_ID])
    action: str = Field(examples=["statement_submitted"])
    detail: dict[str, Any]

    @classmethod
    def from_domain(cls, entry: AuditEntry) -> AuditEntryRead:
        """Map an audit entry."""
        return cls(at=entry.at, actor=entry.actor_sub, action=entry.action, detail=entry.detail)


_HASH = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


class EvidenceEntryRead(BaseModel):
    """One link of the evidence chain; a `redacted` one shows only its hashes.

    `hash` is SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8) of the entry's
    `seq`, `kind`, `key`, `about`, `source`, `recorded_at` and `data`, followed by `prev_hash`
    (64 zeros for the first entry).
    """

    seq: int = Field(examples=[1])
    hash: str = Field(examples=[_HASH])
    prev_hash: str = Field(examples=["0" * 64])
    redacted: bool = Field(examples=[False])
    kind: (
        Literal[
            "derivation", "ledger_row", "rebalance_snapshot", "sale", "sale_credit", "crm_delivery"
        ]
        | None
    ) = Field(None, examples=["ledger_row"])
    key: str | None = Field(None, examples=["ledger:3f1c2b7e-9a4d-4c55-8f0e-1b2c3d4e5f60"])
    about: list[str] | None = Field(None, examples=[[_EX_ID]])
    source: Literal["goals", "performance"] | None = Field(None, examples=["goals"])
    recorded_at: str | None = Field(None, examples=["2026-03-01T10:00:00+00:00"])
    data: dict[str, Any] | None = None


class EvidencePackRead(BaseModel):
    """A target or credit dispute's evidence, hash-linked; parties see their own entries."""

    dispute_id: UUID = Field(examples=[_EX_ID])
    head: str | None = Field(None, examples=[_HASH], description="The last entry's hash.")
    verified: bool = Field(examples=[True], description="Every link and hash recomputes.")
    broken_at: int | None = Field(None, examples=[None], description="First entry that does not.")
    unavailable: list[str] = Field(
        examples=[[]], description="Services that could not be read now; the chain is as before."
    )
    entries: list[EvidenceEntryRead]

    @classmethod
    def of(cls, pack: Any) -> EvidencePackRead:
        """Wire form of a pack: entries the caller may not see keep only their hashes."""
        entries = [
            EvidenceEntryRead(**e.body, hash=e.hash, prev_hash=e.prev_hash, redacted=False)
            if e.seq in pack.shown
            else EvidenceEntryRead(seq=e.seq, hash=e.hash, prev_hash=e.prev_hash, redacted=True)
            for e in pack.entries
        ]
        return cls(
            dispute_id=pack.dispute_id,
            head=pack.head,
            verified=pack.broken_at is None,
            broken_at=pack.broken_at,
            unavailable=pack.unavailable,
            entries=entries,
        )


class FeedbackCreate(BaseModel):
    """A private note: a manager to a rep of their team, or a rep to their manager."""

    member_id: UUID = Field(description="Whom the note is addressed to", examples=[_EX_ID])
    kind: Literal["coaching", "recognition", "concern"] = Field(examples=["recognition"])
    body: str = Field(min_length=1, max_length=10000, examples=["Great discovery call with ACME."])


class FeedbackNoteFacts(Protocol):
    """A feedback note as stored: what FeedbackRead reads of it."""

    id: UUID
    member_id: UUID
    addressee_id: UUID | None
    author_id: UUID | None
    author_sub: str
    team_id: UUID | None
    kind: str
    body: str
    shortfall_id: UUID | None
    dispute_id: UUID | None
    created_at: datetime


class FeedbackRead(BaseModel):
    """A note in someone's feedback feed (coaching, recognition, concern, check_in, notice)."""

    id: UUID
    member_id: UUID = Field(description="The member the note is addressed to or about")
    addressee_id: UUID | None = Field(description="Who is to act on it (the manager for check-ins)")
    author_id: UUID | None
    author: str
    team_id: UUID | None
    kind: str = Field(examples=["check_in"])
    body: str
    shortfall_id: UUID | None
    dispute_id: UUID | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: FeedbackNoteFacts) -> FeedbackRead:
        """Map a note row."""
        return cls(
            id=row.id,
            member_id=row.member_id,
            addressee_id=row.addressee_id,
            author_id=row.author_id,
            author=row.author_sub,
            team_id=row.team_id,
            kind=row.kind,
            body=row.body,
            shortfall_id=row.shortfall_id,
            dispute_id=row.dispute_id,
            created_at=row.created_at,
        )


class MeetingCreate(BaseModel):
    """Schedule a team meeting."""

    title: str = Field(min_length=1, max_length=300, examples=["Weekly pipeline review"])
    scheduled_at: AwareDatetime = Field(examples=["2025-03-03T09:00:00+01:00"])
    cadence: Literal["none", "weekly", "biweekly", "monthly"] = Field("none", examples=["weekly"])
    agenda: list[Annotated[str, StringConstraints(max_length=500)]] = Field(
        default_factory=list, max_length=50, examples=[["Pipeline", "Competitor news"]]
    )
    attendees: list[UUID] = Field(default_factory=list, max_length=200, examples=[[_EX_ID]])


class ActionItemIn(BaseModel):
    """Something one team member will do."""

    description: str = Field(min_length=1, max_length=2000, examples=["Send ACME the new quote"])
    owner_id: UUID = Field(examples=[_EX_ID])
    due_on: date | None = Field(None, examples=["2025-03-10"])


class MeetingNoteCreate(BaseModel):
    """Notes of a meeting with action items."""

    body: str = Field(min_length=1, max_length=20000, examples=["ACME wants a 3-year deal."])
    action_items: list[ActionItemIn] = Field(default_factory=list, max_length=100)


class MeetingNoteFacts(Protocol):
    """A meeting's note as stored: what MeetingNoteRead reads of it."""

    id: UUID
    meeting_id: UUID
    body: str
    action_items: list[dict[str, Any]]
    author_sub: str
    created_at: datetime


class MeetingNoteRead(BaseModel):
    """Notes of a meeting."""

    id: UUID
    meeting_id: UUID
    body: str
    action_items: list[ActionItemIn]
    author: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: MeetingNoteFacts) -> MeetingNoteRead:
        """Map a note row."""
        return cls(
            id=row.id,
            meeting_id=row.meeting_id,
            body=row.body,
            action_items=[ActionItemIn.model_validate(i) for i in row.action_items],
            author=row.author_sub,
            created_at=row.created_at,
        )


class MeetingFacts(Protocol):
    """A meeting as stored: what MeetingRead reads of it."""

    id: UUID
    team_id: UUID
    title: str
    scheduled_at: datetime
    cadence: str
    agenda: list[str]
    attendees: list[str]
    created_at: datetime


class MeetingRead(BaseModel):
    """A team meeting; next_at is the next occurrence of a recurring one."""

    id: UUID
    team_id: UUID
    title: str
    scheduled_at: datetime
    cadence: str = Field(examples=["weekly"])
    next_at: datetime | None = Field(description="Next occurrence from now (None once past)")
    agenda: list[str]
    attendees: list[UUID]
    created_at: datetime
    notes: list[MeetingNoteRead] | None = None

    @classmethod
    def from_row(
        cls, row: MeetingFacts, *, now: datetime, notes: Sequence[MeetingNoteFacts] | None = None
    ) -> MeetingRead:
        """Map a meeting row (with its notes when given)."""
        return cls(
            id=row.id,
            team_id=row.team_id,
            title=row.title,
            scheduled_at=row.scheduled_at,
            cadence=row.cadence,
            next_at=next_occurrence(scheduled_at=row.scheduled_at, cadence=row.cadence, now=now),
            agenda=row.agenda,
            attendees=[UUID(a) for a in row.attendees],
            created_at=row.created_at,
            notes=[MeetingNoteRead.from_row(n) for n in notes] if notes is not None else None,
        )


class IntelCreate(BaseModel):
    """A piece of market intelligence for the team."""

    team_id: UUID = Field(examples=[_EX_ID])
    title: str = Field(min_length=1, max_length=300, examples=["Rival cuts prices in the north"])
    body: str = Field(
        min_length=1, max_length=20000, examples=["Globex offers 20 % off 2-year deals."]
    )
    tags: list[Annotated[str, StringConstraints(max_length=50)]] = Field(
        default_factory=list, max_length=20, examples=[["globex", "discount"]]
    )
    kind: Literal["competitor", "pricing", "customer", "product", "region"] = Field(
        examples=["competitor"]
    )
    competitor: str | None = Field(
        None, max_length=200, examples=["Globex"], description="The competitor it is about"
    )
    sale_ids: list[UUID] = Field(
        default_factory=list, max_length=50, description="Deals it concerns (performance's ids)"
    )


class IntelFacts(Protocol):
    """An intel item as stored: what IntelRead reads of it."""

    id: UUID
    team_id: UUID
    kind: str
    title: str
    body: str
    tags: list[str]
    author_sub: str
    author_id: UUID | None
    created_at: datetime
    competitor: str | None
    sale_ids: list[str]


class IntelRead(BaseModel):
    """A market intelligence item."""

    id: UUID
    team_id: UUID
    kind: str
    title: str
    body: str
    tags: list[str]
    author: str
    author_id: UUID | None
    created_at: datetime
    competitor: str | None = None
    sale_ids: list[UUID] = Field(default_factory=list)

    @classmethod
    def from_row(cls, row: IntelFacts) -> IntelRead:
        """Map an intel row."""
        return cls(
            id=row.id,
            team_id=row.team_id,
            kind=row.kind,
            title=row.title,
            body=row.body,
            tags=row.tags,
            author=row.author_sub,
            author_id=row.author_id,
            created_at=row.created_at,
            competitor=row.competitor,
            sale_ids=[UUID(s) for s in row.sale_ids or ()],
        )
