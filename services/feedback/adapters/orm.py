"""Table models of the feedback service, on a metadata of its own."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy import DDL, event
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.db import define_plumbing_tables, json_field, minor_units, new_metadata, utc_field

metadata = new_metadata()
plumbing = define_plumbing_tables(metadata)


class Base(SQLModel, registry=registry(metadata=metadata)):
    """Base of every feedback table model."""

    if TYPE_CHECKING:
        # SQLModel sets the Core table on every table=True model but does not declare it.
        __table__: ClassVar[sa.Table]


class Team(Base, table=True):
    """A team as goals describes it (read model): who manages it."""

    id: UUID = Field(primary_key=True)
    org_id: UUID = Field(index=True)
    name: str
    manager_id: UUID


class Member(Base, table=True):
    """A member as goals describes it (read model); inactive once they left the team."""

    id: UUID = Field(primary_key=True)
    org_id: UUID = Field(index=True)
    team_id: UUID = Field(index=True)
    name: str
    active: bool = True
    version: int = 0


class Dispute(Base, table=True):
    """A dispute: queryable columns plus the full entity state as JSON (optimistic version)."""

    id: UUID = Field(primary_key=True)
    org_id: UUID = Field(index=True)
    team_id: UUID = Field(index=True)
    kind: str
    state: str = Field(index=True)
    subject: str
    opened_by_sub: str
    opened_at: datetime = utc_field()
    decided_at: datetime | None = utc_field(default=None)
    escalated: bool = False
    version: int = 1
    data: dict[str, Any] = json_field()
    # The earliest deadline still to be announced, so the sweep finds overdue disputes by index.
    next_due_at: datetime | None = utc_field(default=None, index=True)


class DisputePolicy(Base, table=True):
    """A team's dispute deadlines, counted from the opening of each dispute."""

    __tablename__ = "dispute_policy"

    team_id: UUID = Field(primary_key=True)
    org_id: UUID = Field(index=True)
    statement_due_hours: float | None = None
    decision_due_hours: float | None = None
    updated_by_sub: str
    updated_at: datetime = utc_field()


class DisputeEvidence(Base, table=True):
    """One entry of a dispute's hash-linked evidence pack; rows are only ever appended."""

    __tablename__ = "dispute_evidence"
    __table_args__ = (sa.UniqueConstraint("dispute_id", "key"),)

    dispute_id: UUID = Field(primary_key=True, foreign_key="dispute.id")
    seq: int = Field(primary_key=True)
    org_id: UUID = Field(index=True)
    key: str = Field(sa_type=sa.Text)
    # The canonical JSON the hash covers, kept byte for byte.
    body: str = Field(sa_type=sa.Text)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class DisputeParty(Base, table=True):
    """One party of a dispute, so disputes are listed by party."""

    __tablename__ = "dispute_party"

    dispute_id: UUID = Field(primary_key=True, foreign_key="dispute.id")
    party_id: UUID = Field(primary_key=True, index=True)
    org_id: UUID = Field(index=True)


class FeedbackNote(Base, table=True):
    """A private note between a member and their manager (coaching, check-in, notice)."""

    __tablename__ = "feedback_note"
    __table_args__ = (sa.UniqueConstraint("org_id", "shortfall_id"),)

    id: UUID = Field(primary_key=True)
    org_id: UUID = Field(index=True)
    team_id: UUID | None = None
    member_id: UUID = Field(index=True)
    addressee_id: UUID | None = Field(default=None, index=True)
    author_id: UUID | None = Field(default=None, index=True)
    author_sub: str
    kind: str
    body: str
    shortfall_id: UUID | None = None
    dispute_id: UUID | None = None
    created_at: datetime = utc_field()
    # A check-in is answered when the manager records the conversation it asked for.
    answer: str | None = Field(default=None, sa_type=sa.Text)
    answered_at: datetime | None = utc_field(default=None)


class OneOnOne(Base, table=True):
    """A 1:1 between a rep and their manager: proposed, scheduled, held or cancelled."""

    __tablename__ = "one_on_one"
    # One proposal per shortfall episode, however often the shortfall is delivered.
    __table_args__ = (sa.UniqueConstraint("org_id", "shortfall_id"),)

    id: UUID = Field(primary_key=True)
    org_id: UUID = Field(index=True)
    team_id: UUID = Field(index=True)
    member_id: UUID = Field(index=True)
    scheduled_at: datetime = utc_field()
    cadence: str = "none"
    status: str = "scheduled"
    shortfall_id: UUID | None = None
    held_at: datetime | None = utc_field(default=None)
    created_by_sub: str
    created_at: datetime = utc_field()


class OneOnOneNote(Base, table=True):
    """A note of a 1:1, shared with the rep or for the manager only."""

    __tablename__ = "one_on_one_note"

    id: UUID = Field(primary_key=True)
    org_id: UUID = Field(index=True)
    one_on_one_id: UUID = Field(index=True, foreign_key="one_on_one.id")
    body: str = Field(sa_type=sa.Text)
    visibility: str = "shared"
    author_sub: str
    created_at: datetime = utc_field()


class ActionItem(Base, table=True):
    """Something one person will do, from a 1:1 or a team meeting, with a status."""

    __tablename__ = "action_item"

    id: UUID = Field(primary_key=True)
    org_id: UUID = Field(index=True)
    team_id: UUID = Field(index=True)
    owner_id: UUID = Field(index=True)
    description: str = Field(sa_type=sa.Text)
    due_on: date | None = None
    status: str = Field(default="open", index=True)
    source: str
    source_id: UUID = Field(index=True)
    created_by_sub: str
    created_at: datetime = utc_field()
    closed_at: datetime | None = utc_field(default=None)
    overdue_at: datetime | None = utc_field(default=None)


class MemberFact(Base, table=True):
    """A fact about a rep learnt from goals or performance (pace change, target change)."""

    __tablename__ = "member_fact"
    # A redelivered or replayed event adds no second fact.
    __table_args__ = (sa.UniqueConstraint("org_id", "event_id"),)

    id: UUID = Field(primary_key=True)
    org_id: UUID = Field(index=True)
    team_id: UUID = Field(index=True)
    member_id: UUID = Field(index=True)
    period_id: UUID | None = Field(default=None, index=True)
    kind: str
    event_id: str
    at: datetime = utc_field()
    data: dict[str, Any] = json_field()


class ShortfallEpisode(Base, table=True):
    """A rep's shortfall episode as performance announced it: started, and maybe recovered."""

    __tablename__ = "shortfall_episode"

    shortfall_id: UUID = Field(primary_key=True)
    org_id: UUID = Field(index=True)
    team_id: UUID = Field(index=True)
    member_id: UUID = Field(index=True)
    period_id: UUID = Field(index=True)
    episode: int
    shortfall: str
    currency: str
    started_at: datetime = utc_field()
    recovered_at: datetime | None = utc_field(default=None)


class WebhookSubscription(Base, table=True):
    """Another system's endpoint that receives Attain's public facts, signed."""

    __tablename__ = "webhook_subscription"

    id: UUID = Field(primary_key=True)
    org_id: UUID = Field(index=True)
    url: str = Field(sa_type=sa.Text)
    types: list[str] = json_field()
    team_id: UUID | None = None
    # Sealed with FEEDBACK_SECRETS_KEYS when configured.
    secret: str = Field(sa_type=sa.Text)
    active: bool = True
    consecutive_failures: int = 0
    disabled_at: datetime | None = utc_field(default=None)
    disabled_reason: str | None = None
    created_by_sub: str
    created_at: datetime = utc_field()


class WebhookDelivery(Base, table=True):
    """One fact for one subscription: its attempts and outcome (the delivery log)."""

    __tablename__ = "webhook_delivery"
    # A fact delivered twice to feedback (at-least-once) is sent once per subscription.
    __table_args__ = (
        sa.UniqueConstraint("subscription_id", "event_id"),
        sa.Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
    )

    id: UUID = Field(primary_key=True)
    org_id: UUID = Field(index=True)
    subscription_id: UUID = Field(index=True, foreign_key="webhook_subscription.id")
    event_id: str
    type: str
    payload: dict[str, Any] = json_field()
    status: str = "pending"
    attempts: int = 0
    next_attempt_at: datetime = utc_field()
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = utc_field()
    delivered_at: datetime | None = utc_field(default=None)


class Meeting(Base, table=True):
    """A team meeting, possibly recurring."""

    id: UUID = Field(primary_key=True)
    org_id: UUID = Field(index=True)
    team_id: UUID = Field(index=True)
    title: str
    scheduled_at: datetime = utc_field()
    cadence: str = "none"
    agenda: list[str] = json_field()
    attendees: list[str] = json_field()
    created_by_sub: str
    created_at: datetime = utc_field()


class MeetingNote(Base, table=True):
    """Notes taken at a meeting, with action items and their owners."""

    __tablename__ = "meeting_note"

    id: UUID = Field(primary_key=True)
    org_id: UUID = Field(index=True)
    meeting_id: UUID = Field(index=True, foreign_key="meeting.id")
    body: str
    action_items: list[dict[str, Any]] = json_field()
    author_sub: str
    created_at: datetime = utc_field()


class IntelItem(Base, table=True):
    """A piece of market intelligence a team member picked up in the field."""

    __tablename__ = "intel_item"

    id: UUID = Field(primary_key=True)
    org_id: UUID = Field(index=True)
    team_id: UUID = Field(index=True)
    kind: str
    title: str
    body: str = Field(sa_type=sa.Text)
    tags: list[str] = json_field()
    author_sub: str
    author_id: UUID | None = None
    created_at: datetime = utc_field()
    # Who the item is about, and the deals it concerns (sale ids as performance knows them).
    competitor: str | None = Field(default=None, max_length=200)
    competitor_key: str | None = Field(default=None, max_length=200, index=True)
    sale_ids: list[str] = json_field(default_factory=list)


class CompetitorDeal(Base, table=True):
    """A deal won or lost against a named competitor (read model of performance's sale facts)."""

    __tablename__ = "competitor_deal"
    __table_args__ = (sa.Index("ix_competitor_deal_team_period", "team_id", "period_id"),)

    sale_id: UUID = Field(primary_key=True)
    org_id: UUID = Field(index=True)
    team_id: UUID
    period_id: UUID | None = None
    competitor: str | None = Field(default=None, max_length=200)
    competitor_key: str | None = Field(default=None, max_length=200)
    # won | lost | none (reversed, or won without a competitor): only won and lost are shown
    outcome: str = Field(max_length=10)
    amount_minor: int = minor_units()
    currency: str = Field(max_length=3)
    reasons: list[str] = json_field()
    closed_at: datetime = utc_field()
    # The sale's version: an older fact arriving late changes nothing.
    version: int


class IntelTag(Base, table=True):
    """One tag of an intel item (tag filters are plain indexed lookups)."""

    __tablename__ = "intel_tag"

    item_id: UUID = Field(primary_key=True, foreign_key="intel_item.id")
    tag: str = Field(primary_key=True, index=True)
    org_id: UUID = Field(index=True)


# Full-text search: a standalone FTS5 table on SQLite, a generated tsvector + GIN on PostgreSQL.
# The same statements are in the initial migration.
SQLITE_INTEL_FTS = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS intel_search USING fts5("
    "item_id UNINDEXED, title, body, tags, tokenize='porter unicode61')"
)
POSTGRES_INTEL_TSVECTOR = (
    "ALTER TABLE intel_item ADD COLUMN IF NOT EXISTS search tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(body, '')), 'B')) STORED"
)
POSTGRES_INTEL_GIN = (
    "CREATE INDEX IF NOT EXISTS ix_intel_item_search ON intel_item USING GIN (search)"
)
_intel = IntelItem.__table__
event.listen(_intel, "after_create", DDL(SQLITE_INTEL_FTS).execute_if(dialect="sqlite"))
event.listen(_intel, "after_create", DDL(POSTGRES_INTEL_TSVECTOR).execute_if(dialect="postgresql"))
event.listen(_intel, "after_create", DDL(POSTGRES_INTEL_GIN).execute_if(dialect="postgresql"))
