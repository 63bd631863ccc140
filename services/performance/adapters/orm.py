"""Table models of the performance service, on a metadata of its own.

Times are stored as UTC instants (SQLite keeps no offset, so everything written is UTC first);
money is integer minor units with a currency.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.db import Versioned, define_plumbing_tables, minor_units, new_metadata

metadata = new_metadata()
plumbing = define_plumbing_tables(metadata)

_TZ = sa.DateTime(timezone=True)


class Base(SQLModel, registry=registry(metadata=metadata)):
    """Base of every performance table model."""


# -- read models fed by goals' events --------------------------------------------------------


class Team(Versioned, Base, table=True):
    """A team as goals announced it, plus the pace thresholds its manager set here."""

    # Two managers setting thresholds at once: one wins, the other is told (409), none is lost.
    __version_column__ = "thresholds_version"

    id: uuid.UUID = Field(primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    name: str
    currency: str = Field(max_length=3)
    manager_id: uuid.UUID
    at_risk_below: str = "0.9"
    struggling_below: str = "0.7"
    hysteresis: str = "0.05"
    min_elapsed_share: str = "0.1"
    thresholds_version: int = 1


class Member(Base, table=True):
    """A team member and the identities that map CRM owners to them."""

    id: uuid.UUID = Field(primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    team_id: uuid.UUID = Field(index=True)
    name: str
    email: str = Field(index=True)
    crm_hubspot: str | None = Field(default=None, index=True)
    crm_salesforce: str | None = Field(default=None, index=True)
    crm_pipedrive: str | None = Field(default=None, index=True)
    version: int
    active: bool = True
    # Pace expects nothing before starts_on and follows the ramp schedule (decimal text).
    starts_on: date | None = None
    ramp_schedule: list[str] | None = Field(default=None, sa_type=sa.JSON)  # type: ignore[call-overload]


class Period(Base, table=True):
    """An org-wide period with its bounds as UTC instants."""

    id: uuid.UUID = Field(primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    name: str
    starts_on: date
    ends_on: date
    timezone: str = "UTC"
    starts_at: datetime = Field(sa_type=_TZ, index=True)
    ends_at: datetime = Field(sa_type=_TZ, index=True)
    seasonality: dict[str, str] | None = Field(default=None, sa_type=sa.JSON)


class Target(Base, table=True):
    """A member's individual target for a period, at the newest version seen."""

    __table_args__ = (sa.Index("ix_target_team_period", "team_id", "period_id"),)

    id: uuid.UUID = Field(primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    team_id: uuid.UUID
    member_id: uuid.UUID = Field(index=True)
    period_id: uuid.UUID
    amount_minor: int = minor_units()
    currency: str = Field(max_length=3)
    version: int


# -- webhooks ---------------------------------------------------------------------------------


class WebhookSecret(Base, table=True):
    """One secret of an org for a CRM source; valid while valid_until is null or in the future."""

    __tablename__ = "webhook_secret"
    __table_args__ = (sa.Index("ix_webhook_secret_org_source", "org_id", "source"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    org_id: uuid.UUID
    source: str = Field(max_length=20)
    secret: str
    api_token: str | None = None
    created_at: datetime = Field(sa_type=_TZ)
    valid_until: datetime | None = Field(default=None, sa_type=_TZ)


class WebhookDelivery(Base, table=True):
    """Every verified delivery as received, stored in full before it is processed."""

    __tablename__ = "webhook_delivery"
    # The processor takes pending deliveries in arrival order: one index serves that query.
    __table_args__ = (sa.Index("ix_webhook_delivery_outcome_arrival", "outcome", "arrival"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    source: str = Field(max_length=20)
    received_at: datetime = Field(sa_type=_TZ)
    headers: dict[str, Any] = Field(sa_type=sa.JSON)
    body: bytes = Field(sa_type=sa.LargeBinary)
    verified: bool
    # received | fetching | processed | malformed | failed
    outcome: str = Field(max_length=20)
    error: str | None = None
    processed_at: datetime | None = Field(default=None, sa_type=_TZ)
    #: Nanoseconds since the epoch when stored, strictly increasing per process: arrival order.
    arrival: int = Field(default=0, sa_type=sa.BigInteger)
    applied: int = 0
    duplicates: int = 0
    #: HubSpot deal fetches tried so far; the next one waits until next_attempt_at.
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=_TZ)


class WebhookRejection(Base, table=True):
    """A refused delivery's bounded audit record: never its whole body (anyone can send one)."""

    __tablename__ = "webhook_rejection"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    source: str = Field(max_length=20)
    received_at: datetime = Field(sa_type=_TZ, index=True)
    reason: str = Field(max_length=20)  # no_secret | rejected | malformed
    error: str = Field(max_length=500)
    headers: dict[str, Any] = Field(sa_type=sa.JSON)  # bounded, credentials removed
    body_size: int
    body_sha256: str = Field(max_length=64)
    body_head: bytes = Field(sa_type=sa.LargeBinary)  # the first few KiB; empty for no_secret


class WebhookEvent(Base, table=True):
    """A CRM change applied once: the unique key makes a redelivery (even concurrent) a no-op."""

    __tablename__ = "webhook_event"
    __table_args__ = (sa.UniqueConstraint("org_id", "source", "dedupe_key"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    org_id: uuid.UUID
    source: str = Field(max_length=20)
    dedupe_key: str = Field(max_length=400)
    delivery_id: uuid.UUID
    external_id: str
    kind: str = Field(max_length=20)
    applied_at: datetime = Field(sa_type=_TZ)


# -- sales and attainment ---------------------------------------------------------------------


class Sale(Versioned, Base, table=True):
    """A sale from a CRM or entered by hand; team_id is null while it is unassigned."""

    __table_args__ = (
        sa.UniqueConstraint("org_id", "source", "external_id"),
        sa.Index("ix_sale_org_closed", "org_id", "closed_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    org_id: uuid.UUID
    team_id: uuid.UUID | None = Field(default=None, index=True)
    source: str = Field(max_length=20)
    external_id: str | None = None
    amount_minor: int = minor_units()
    currency: str = Field(max_length=3)
    currency_assumed: bool = False
    currency_mismatch: bool = False
    closed_at: datetime = Field(sa_type=_TZ)
    status: str = Field(default="active", max_length=20)  # active | reversed
    unassigned: bool = Field(default=False, index=True)
    owner_ref: str | None = None
    owner_email: str | None = None
    version: int = 1
    created_at: datetime = Field(sa_type=_TZ)
    updated_at: datetime = Field(sa_type=_TZ)


class SaleCredit(Base, table=True):
    """A member's share of a sale; credited_minor is exact (largest remainder over the split)."""

    __tablename__ = "sale_credit"
    __table_args__ = (sa.UniqueConstraint("sale_id", "member_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    sale_id: uuid.UUID = Field(index=True)
    member_id: uuid.UUID = Field(index=True)
    percent: str
    credited_minor: int = minor_units()


class Attainment(Base, table=True):
    """A member's achieved amount in a period, kept incrementally, with the last judged status."""

    __table_args__ = (sa.UniqueConstraint("member_id", "period_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    org_id: uuid.UUID
    team_id: uuid.UUID = Field(index=True)
    member_id: uuid.UUID
    period_id: uuid.UUID = Field(index=True)
    achieved_minor: int = minor_units(default=0)
    status: str | None = None
    reported_status: str | None = None
    reported_achieved_minor: int | None = minor_units(default=None)
    evaluated_at: datetime | None = Field(default=None, sa_type=_TZ)


class ShortfallEpisode(Base, table=True):
    """One stretch of 'struggling'; the unique key lets only one replica announce it."""

    __tablename__ = "shortfall_episode"
    __table_args__ = (sa.UniqueConstraint("member_id", "period_id", "episode"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    org_id: uuid.UUID
    team_id: uuid.UUID
    member_id: uuid.UUID
    period_id: uuid.UUID
    episode: int
    shortfall_minor: int = minor_units()
    opened_at: datetime = Field(sa_type=_TZ)
    closed_at: datetime | None = Field(default=None, sa_type=_TZ)
    # When the member, out of the episode, first projected above their target: announced once,
    # so goals can hand back what the episode moved away.
    recovered_at: datetime | None = Field(default=None, sa_type=_TZ)


class TeamEvaluation(Base, table=True):
    """What the last team shortfall event of a (team, period) said, so it is not repeated."""

    __tablename__ = "team_evaluation"

    team_id: uuid.UUID = Field(primary_key=True)
    period_id: uuid.UUID = Field(primary_key=True)
    org_id: uuid.UUID
    # Digest of every member's target version and achieved amount: room for an uncovered
    # shortfall can only appear when one of them changes.
    fingerprint: str
    published_at: datetime = Field(sa_type=_TZ)


class EvaluationDue(Base, table=True):
    """A (team, period) whose sales changed: evaluated once the burst settles (debounce)."""

    __tablename__ = "evaluation_due"

    team_id: uuid.UUID = Field(primary_key=True)
    period_id: uuid.UUID = Field(primary_key=True)
    org_id: uuid.UUID
    # Wall-clock instants: the debounce is about real quiet, not the business clock.
    first_at: datetime = Field(sa_type=_TZ)
    last_at: datetime = Field(sa_type=_TZ, index=True)
    # Bumped by every sale: an evaluator removes the row only if no sale came in meanwhile.
    marks: int = 1
    #: The running import that touched it: evaluated only once that import has finished.
    held_by: uuid.UUID | None = Field(default=None, index=True)


class PeriodClose(Base, table=True):
    """A (team, period) whose final results were published; unique so it happens once."""

    __tablename__ = "period_close"
    __table_args__ = (sa.UniqueConstraint("team_id", "period_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    org_id: uuid.UUID
    team_id: uuid.UUID
    period_id: uuid.UUID
    closed_at: datetime = Field(sa_type=_TZ)


class Absence(Base, table=True):
    """A member's absence as goals announced it: pace expects no sales on these days."""

    id: uuid.UUID = Field(primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    team_id: uuid.UUID
    member_id: uuid.UUID = Field(index=True)
    starts_on: date
    ends_on: date
    kind: str


# -- bulk imports -----------------------------------------------------------------------------


class SaleImport(Base, table=True):
    """An admin's bulk import of sales: stored whole on the request, applied by the processor."""

    __tablename__ = "sale_import"
    __table_args__ = (sa.Index("ix_sale_import_state_created", "state", "created_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    format: str = Field(max_length=10)  # ndjson | csv
    state: str = Field(max_length=20)  # queued | running | finished
    received: int = 0
    applied: int = 0
    duplicates: int = 0
    failed: int = 0
    created_at: datetime = Field(sa_type=_TZ)
    finished_at: datetime | None = Field(default=None, sa_type=_TZ)


class SaleImportRow(Base, table=True):
    """One row of an import: the sale as the generic format carries it, and what became of it."""

    __tablename__ = "sale_import_row"
    __table_args__ = (
        sa.Index("ix_sale_import_row_import_outcome", "import_id", "outcome", "line"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    import_id: uuid.UUID
    line: int
    payload: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    outcome: str = Field(max_length=20)  # pending | applied | duplicate | failed
    error: str | None = None
