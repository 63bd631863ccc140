"""Wire models of 1:1s, their agendas, action items and the episode timeline."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal, Protocol
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.feedback.handlers.coaching import Agenda, EpisodeLine, OneOnOneDetail
from services.feedback.handlers.meetings import next_occurrence

_EX_ID = "3f1c2b7e-9a4d-4c55-8f0e-1b2c3d4e5f60"
CadenceIn = Literal["none", "weekly", "biweekly", "monthly"]
OneOnOneStatus = Literal["proposed", "scheduled", "held", "cancelled"]
ActionItemStatus = Literal["open", "done", "dropped"]


class OneOnOneCreate(BaseModel):
    """Schedule a 1:1 with a rep."""

    scheduled_at: AwareDatetime = Field(examples=["2025-03-04T10:00:00+01:00"])
    cadence: CadenceIn = Field("none", examples=["biweekly"])


class OneOnOneUpdate(BaseModel):
    """Confirm a proposed 1:1, move it, record it as held, or cancel it."""

    status: OneOnOneStatus | None = Field(None, examples=["held"])
    scheduled_at: AwareDatetime | None = Field(None, examples=["2025-03-05T10:00:00+01:00"])


class ActionItemCreate(BaseModel):
    """Something one person will do after the 1:1."""

    description: str = Field(min_length=1, max_length=2000, examples=["Call ACME back"])
    owner_id: UUID = Field(examples=[_EX_ID])
    due_on: date | None = Field(None, examples=["2025-03-10"])


class OneOnOneNoteCreate(BaseModel):
    """A note of a 1:1; `manager_only` notes are not shown to the rep."""

    body: str = Field(min_length=1, max_length=20000, examples=["Two deals stuck at legal."])
    visibility: Literal["shared", "manager_only"] = Field("shared", examples=["shared"])
    action_items: list[ActionItemCreate] = Field(default_factory=list, max_length=100)


class ActionItemUpdate(BaseModel):
    """Close an action item (done or dropped) or reopen it."""

    status: ActionItemStatus = Field(examples=["done"])


class CheckInAnswer(BaseModel):
    """What the manager and the rep agreed when they talked about the check-in."""

    body: str = Field(min_length=1, max_length=10000, examples=["Talked; two deals to push."])


class ActionItemFacts(Protocol):
    """An action item as stored: what ActionItemRead reads of it."""

    id: UUID
    team_id: UUID
    owner_id: UUID
    description: str
    due_on: date | None
    status: str
    source: str
    source_id: UUID
    created_at: datetime
    closed_at: datetime | None


class ActionItemRead(BaseModel):
    """An action item with its status."""

    id: UUID
    team_id: UUID
    owner_id: UUID
    description: str
    due_on: date | None
    status: ActionItemStatus
    source: Literal["one_on_one", "meeting"]
    source_id: UUID
    created_at: datetime
    closed_at: datetime | None
    overdue: bool = Field(description="Open and past its due date")

    @classmethod
    def from_row(cls, row: ActionItemFacts, *, today: date) -> ActionItemRead:
        """Map an action item row."""
        return cls(
            id=row.id,
            team_id=row.team_id,
            owner_id=row.owner_id,
            description=row.description,
            due_on=row.due_on,
            status=row.status,
            source=row.source,
            source_id=row.source_id,
            created_at=row.created_at,
            closed_at=row.closed_at,
            overdue=row.status == "open" and row.due_on is not None and row.due_on < today,
        )


class OneOnOneNoteFacts(Protocol):
    """A 1:1 note as stored: what OneOnOneNoteRead reads of it."""

    id: UUID
    body: str
    visibility: str
    author_sub: str
    created_at: datetime


class OneOnOneNoteRead(BaseModel):
    """A note of a 1:1."""

    id: UUID
    body: str
    visibility: Literal["shared", "manager_only"]
    author: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: OneOnOneNoteFacts) -> OneOnOneNoteRead:
        """Map a note row."""
        return cls(
            id=row.id,
            body=row.body,
            visibility=row.visibility,
            author=row.author_sub,
            created_at=row.created_at,
        )


class OneOnOneFacts(Protocol):
    """A 1:1 as stored: what OneOnOneRead reads of it."""

    id: UUID
    team_id: UUID
    member_id: UUID
    scheduled_at: datetime
    cadence: str
    status: str
    shortfall_id: UUID | None
    held_at: datetime | None
    created_by_sub: str
    created_at: datetime


class OneOnOneRead(BaseModel):
    """A 1:1 with the notes and action items the caller may see."""

    id: UUID
    team_id: UUID
    member_id: UUID
    scheduled_at: datetime
    cadence: CadenceIn
    status: OneOnOneStatus
    next_at: datetime | None = Field(description="The next occurrence of a recurring 1:1")
    shortfall_id: UUID | None = Field(description="The shortfall that made Attain propose it")
    held_at: datetime | None
    created_by: str
    created_at: datetime
    notes: list[OneOnOneNoteRead] = []
    action_items: list[ActionItemRead] = []

    @classmethod
    def from_row(
        cls, row: OneOnOneFacts, *, now: datetime, detail: OneOnOneDetail | None = None
    ) -> OneOnOneRead:
        """Map a 1:1 row (with its notes and items when given)."""
        next_at = None
        if row.status not in ("cancelled",):
            next_at = next_occurrence(scheduled_at=row.scheduled_at, cadence=row.cadence, now=now)
        return cls(
            id=row.id,
            team_id=row.team_id,
            member_id=row.member_id,
            scheduled_at=row.scheduled_at,
            cadence=row.cadence,
            status=row.status,
            next_at=next_at,
            shortfall_id=row.shortfall_id,
            held_at=row.held_at,
            created_by=row.created_by_sub,
            created_at=row.created_at,
            notes=[OneOnOneNoteRead.from_row(n) for n in detail.notes] if detail else [],
            action_items=(
                [ActionItemRead.from_row(i, today=now.date()) for i in detail.action_items]
                if detail
                else []
            ),
        )


class OneOnOneNoteCreated(BaseModel):
    """The note written and the action items it created."""

    note: OneOnOneNoteRead
    action_items: list[ActionItemRead]


class MemberFactFacts(Protocol):
    """A fact about a rep as stored: what FactRead reads of it."""

    kind: str
    at: datetime
    period_id: UUID | None
    data: dict[str, Any]


class FactRead(BaseModel):
    """Something that happened to the rep: a pace change or a target change."""

    kind: Literal["pace_change", "target_change"]
    at: datetime
    period_id: UUID | None
    details: dict[str, Any] = Field(
        examples=[{"status": "struggling", "previous_status": "at_risk", "percent": "31.5"}]
    )

    @classmethod
    def from_row(cls, row: MemberFactFacts) -> FactRead:
        """Map a fact row."""
        return cls(
            kind=row.kind,
            at=row.at,
            period_id=row.period_id,
            details=row.data,
        )


class CheckInRead(BaseModel):
    """A check-in opened for a shortfall."""

    model_config = ConfigDict(from_attributes=True)  # model_validate maps a stored note

    id: UUID
    body: str
    shortfall_id: UUID | None
    created_at: datetime
    answered_at: datetime | None = None


class IntelSummary(BaseModel):
    """Intel someone on the team shared."""

    model_config = ConfigDict(from_attributes=True)  # model_validate maps a stored item

    id: UUID
    title: str
    tags: list[str]
    created_at: datetime
    competitor: str | None = None
    author_id: UUID | None = None


class AgendaRead(BaseModel):
    """A 1:1's agenda, built from what happened since the rep's previous 1:1."""

    one_on_one_id: UUID
    member_id: UUID
    since: datetime | None = Field(description="The previous 1:1 (null: the rep's first)")
    pace_changes: list[FactRead]
    target_changes: list[FactRead]
    open_action_items: list[ActionItemRead]
    open_check_ins: list[CheckInRead]
    intel_shared: list[IntelSummary]

    @classmethod
    def from_agenda(cls, agenda: Agenda, *, today: date) -> AgendaRead:
        """Map a built agenda."""
        return cls(
            one_on_one_id=agenda.one_on_one.id,
            member_id=agenda.one_on_one.member_id,
            since=agenda.since,
            pace_changes=[FactRead.from_row(f) for f in agenda.pace_changes],
            target_changes=[FactRead.from_row(f) for f in agenda.target_changes],
            open_action_items=[
                ActionItemRead.from_row(i, today=today) for i in agenda.open_action_items
            ],
            open_check_ins=[CheckInRead.model_validate(c) for c in agenda.open_check_ins],
            intel_shared=[IntelSummary.model_validate(i) for i in agenda.intel_shared],
        )


class ConversationRead(BaseModel):
    """The first conversation of an episode: a held 1:1 or an answered check-in."""

    kind: Literal["one_on_one_held", "check_in_answered"]
    reference_id: UUID
    at: datetime


class EpisodeRead(BaseModel):
    """One shortfall episode: start, first conversation, actions done, target moves, recovery."""

    shortfall_id: UUID
    member_id: UUID
    period_id: UUID
    episode: int
    shortfall: str = Field(examples=["4200.00"])
    currency: str
    started_at: datetime
    first_conversation: ConversationRead | None
    hours_to_first_conversation: float | None
    actions_done: list[ActionItemRead]
    target_moves: list[FactRead]
    recovered: bool
    recovered_at: datetime | None

    @classmethod
    def from_line(cls, line: EpisodeLine, *, today: date) -> EpisodeRead:
        """Map a timeline line."""
        episode = line.episode
        started = episode.started_at
        talk = line.first_conversation
        return cls(
            shortfall_id=episode.shortfall_id,
            member_id=episode.member_id,
            period_id=episode.period_id,
            episode=episode.episode,
            shortfall=episode.shortfall,
            currency=episode.currency,
            started_at=started,
            first_conversation=(
                ConversationRead(kind=talk[0], reference_id=talk[1], at=talk[2]) if talk else None
            ),
            hours_to_first_conversation=(
                round((talk[2] - started).total_seconds() / 3600, 2) if talk else None
            ),
            actions_done=[ActionItemRead.from_row(i, today=today) for i in line.actions_done],
            target_moves=[FactRead.from_row(f) for f in line.target_moves],
            recovered=episode.recovered_at is not None,
            recovered_at=episode.recovered_at,
        )
