"""Table models of the performance service, on a metadata of its own.

Times are stored as UTC instants (SQLite keeps no offset, so everything written is UTC first);
money is integer minor units with a currency.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import fields
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.performance.domain.sale import SaleState, Share
from shared.db import (
    Versioned,
    define_plumbing_tables,
    json_field,
    minor_units,
    new_metadata,
    utc_field,
)

metadata = new_metadata()
plumbing = define_plumbing_tables(metadata)

#: Deliveries that ended in an error (the partial index and the health view share the condition).
FAILED_OUTCOMES = "outcome IN ('failed', 'malformed')"


class Base(SQLModel, registry=registry(metadata=metadata)):
    """Base of every performance table model."""

    if TYPE_CHECKING:
        # SQLModel sets the Core table on every table=True model but does not declare it.
        __table__: ClassVar[sa.Table]


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
    # The team above this one in goals' tree: its managers read and manage this team too.
    parent_team_id: uuid.UUID | None = Field(default=None, index=True)
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
    ramp_schedule: list[str] | None = json_field(default=None)


class Period(Base, table=True):
    """An org-wide period with its bounds as UTC instants."""

    id: uuid.UUID = Field(primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    name: str
    starts_on: date
    ends_on: date
    timezone: str = "UTC"
    starts_at: datetime = utc_field(index=True)
    ends_at: datetime = utc_field(index=True)
    seasonality: dict[str, str] | None = json_field(default=None)


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
    created_at: datetime = utc_field()
    valid_until: datetime | None = utc_field(default=None)


class CrmSettings(Base, table=True):
    """An org's per-CRM settings; for HubSpot the stage ids that mean won or lost."""

    __tablename__ = "crm_settings"

    org_id: uuid.UUID = Field(primary_key=True)
    source: str = Field(primary_key=True, max_length=20)
    won_stages: list[str] | None = Field(default=None, sa_type=sa.JSON)
    lost_stages: list[str] | None = Field(default=None, sa_type=sa.JSON)
    updated_at: datetime = utc_field()


class WebhookDelivery(Base, table=True):
    """Every verified delivery as received, stored in full before it is processed."""

    __tablename__ = "webhook_delivery"
    # The processor takes pending deliveries in arrival order: one index serves that query.
    __table_args__ = (
        sa.Index("ix_webhook_delivery_outcome_arrival", "outcome", "arrival"),
        # The connection health view: a source's latest deliveries and its last day's counts...
        sa.Index("ix_webhook_delivery_org_source_received", "org_id", "source", "received_at"),
        # ...and its latest failure, from an index holding only the (few) failed deliveries.
        sa.Index(
            "ix_webhook_delivery_org_source_failed",
            "org_id",
            "source",
            "processed_at",
            postgresql_where=sa.text(FAILED_OUTCOMES),
            sqlite_where=sa.text(FAILED_OUTCOMES),
        ),
    )
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    source: str = Field(max_length=20)
    received_at: datetime = utc_field()
    headers: dict[str, Any] = json_field()
    body: bytes = Field(sa_type=sa.LargeBinary)
    verified: bool
    # received | fetching | processed | malformed | failed
    outcome: str = Field(max_length=20)
    error: str | None = None
    processed_at: datetime | None = utc_field(default=None)
    #: Nanoseconds since the epoch when stored, strictly increasing per process: arrival order.
    arrival: int = Field(default=0, sa_type=sa.BigInteger)
    applied: int = 0
    duplicates: int = 0
    #: HubSpot deal fetches tried so far; the next one waits until next_attempt_at.
    attempts: int = 0
    next_attempt_at: datetime | None = utc_field(default=None)


class WebhookRejection(Base, table=True):
    """A refused delivery's bounded audit record: never its whole body (anyone can send one)."""

    __tablename__ = "webhook_rejection"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    source: str = Field(max_length=20)
    received_at: datetime = utc_field(index=True)
    reason: str = Field(max_length=20)  # no_secret | rejected | malformed
    error: str = Field(max_length=500)
    headers: dict[str, Any] = json_field()  # bounded, credentials removed
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
    applied_at: datetime = utc_field()


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
    closed_at: datetime = utc_field()
    # active | reversed | lost (a closed-lost deal: kept for the competitor view, never counted)
    status: str = Field(default="active", max_length=20)
    unassigned: bool = Field(default=False, index=True)
    owner_ref: str | None = None
    owner_email: str | None = None
    competitor: str | None = Field(default=None, max_length=200)
    loss_reasons: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    version: int = 1
    created_at: datetime = utc_field()
    updated_at: datetime = utc_field()

    # The aggregate (``domain.sale.SaleState``) decides every change; the row only stores it.

    @classmethod
    def of(cls, state: SaleState) -> Sale:
        """A new row holding a sale as the aggregate made it."""
        return cls.model_validate(_sale_columns(state))

    def state(self, credits: Iterable[SaleCredit]) -> SaleState:
        """The sale with its credit rows, as the aggregate."""
        values = {name: getattr(self, name) for name in _SALE_FIELDS}
        values["loss_reasons"] = tuple(self.loss_reasons or ())
        shares = tuple(Share(c.member_id, c.percent, c.credited_minor) for c in credits)
        return SaleState(**values, credits=shares)

    def take(self, state: SaleState) -> None:
        """Store what a change of the aggregate made of the sale."""
        for name, value in _sale_columns(state).items():
            if getattr(self, name) != value:
                setattr(self, name, value)


_SALE_FIELDS = [f.name for f in fields(SaleState) if f.name != "credits"]


def _sale_columns(state: SaleState) -> dict[str, Any]:
    values = {name: getattr(state, name) for name in _SALE_FIELDS}
    values["loss_reasons"] = list(state.loss_reasons)
    return values


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
    evaluated_at: datetime | None = utc_field(default=None)


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
    opened_at: datetime = utc_field()
    closed_at: datetime | None = utc_field(default=None)
    # When the member, out of the episode, first projected above their target: announced once,
    # so goals can hand back what the episode moved away.
    recovered_at: datetime | None = utc_field(default=None)


class TeamEvaluation(Base, table=True):
    """What the last team shortfall event of a (team, period) said, so it is not repeated."""

    __tablename__ = "team_evaluation"

    team_id: uuid.UUID = Field(primary_key=True)
    period_id: uuid.UUID = Field(primary_key=True)
    org_id: uuid.UUID
    # Digest of every member's target version and achieved amount: room for an uncovered
    # shortfall can only appear when one of them changes.
    fingerprint: str
    published_at: datetime = utc_field()


class EvaluationDue(Base, table=True):
    """A (team, period) whose sales changed: evaluated once the burst settles (debounce)."""

    __tablename__ = "evaluation_due"

    team_id: uuid.UUID = Field(primary_key=True)
    period_id: uuid.UUID = Field(primary_key=True)
    org_id: uuid.UUID
    # Wall-clock instants: the debounce is about real quiet, not the business clock.
    first_at: datetime = utc_field()
    last_at: datetime = utc_field(index=True)
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
    closed_at: datetime = utc_field()


class Absence(Base, table=True):
    """A member's absence as goals announced it: pace expects no sales on these days."""

    id: uuid.UUID = Field(primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    team_id: uuid.UUID
    member_id: uuid.UUID = Field(index=True)
    starts_on: date
    ends_on: date
    kind: str


# -- currency conversion ----------------------------------------------------------------------


class FxRate(Base, table=True):
    """A period's exact rate from one currency into a team currency, as an admin set it."""

    __tablename__ = "fx_rate"

    period_id: uuid.UUID = Field(primary_key=True)
    into_currency: str = Field(primary_key=True, max_length=3)
    from_currency: str = Field(primary_key=True, max_length=3)
    org_id: uuid.UUID = Field(index=True)
    rate: str = Field(max_length=40)  # decimal text: exact
    set_by: str = Field(max_length=200)
    set_at: datetime = utc_field()


class SaleValuation(Base, table=True):
    """What a sale in another currency counts for in a period, at the rate used."""

    __tablename__ = "sale_valuation"
    __table_args__ = (sa.Index("ix_sale_valuation_period", "period_id"),)

    sale_id: uuid.UUID = Field(primary_key=True)
    period_id: uuid.UUID = Field(primary_key=True)
    org_id: uuid.UUID
    currency: str = Field(max_length=3)
    rate: str = Field(max_length=40)
    counted_minor: int = minor_units()
    valued_at: datetime = utc_field()


class FxRateChange(Base, table=True):
    """One rate set, changed or removed: who, when, the old and the new rate."""

    __tablename__ = "fx_rate_change"
    __table_args__ = (sa.Index("ix_fx_rate_change_period", "period_id", "changed_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    org_id: uuid.UUID
    period_id: uuid.UUID
    into_currency: str = Field(max_length=3)
    from_currency: str = Field(max_length=3)
    old_rate: str | None = Field(default=None, max_length=40)
    new_rate: str | None = Field(default=None, max_length=40)
    changed_by: str = Field(max_length=200)
    changed_at: datetime = utc_field()


class SaleRevaluation(Base, table=True):
    """A sale re-valued by a rate change: what it counted for before and after (null: nothing)."""

    __tablename__ = "sale_revaluation"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    change_id: uuid.UUID = Field(index=True)
    sale_id: uuid.UUID = Field(index=True)
    currency: str = Field(max_length=3)
    old_counted_minor: int | None = minor_units(default=None)
    new_counted_minor: int | None = minor_units(default=None)


# -- connection health ------------------------------------------------------------------------


class WebhookRefusal(Base, table=True):
    """Refused deliveries of a source with a secret, counted per hour: one row, never a body.

    Only (org, source) pairs that have a secret are counted, so a flood at made-up org ids adds
    no rows; and hours older than a day or two are purged with the rejection audit records.
    """

    __tablename__ = "webhook_refusal"

    org_id: uuid.UUID = Field(primary_key=True)
    source: str = Field(primary_key=True, max_length=20)
    hour: datetime = utc_field(primary_key=True)
    refused: int = 0
    last_at: datetime = utc_field()
    last_reason: str = Field(max_length=20)
    last_error: str = Field(max_length=500)


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
    created_at: datetime = utc_field()
    finished_at: datetime | None = utc_field(default=None)


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
