"""Facts the performance service publishes on attain.performance.v1."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.events.base import Event

Status = Literal["on_track", "at_risk", "struggling", "no_target"]


class Credit(BaseModel):
    """A member's share of a sale's credit."""

    model_config = ConfigDict(frozen=True)

    member_id: UUID
    percent: Decimal


class _SaleFacts(Event):
    SUBJECT_FIELD: ClassVar[str] = "sale_id"
    SEQUENCE_FIELD: ClassVar[str | None] = "version"

    team_id: UUID
    sale_id: UUID
    source: str
    external_id: str | None
    amount: Decimal
    currency: str
    closed_at: datetime
    period_id: UUID | None
    credits: list[Credit]
    version: int
    #: Who the deal was won (or lost) against, when the CRM said.
    competitor: str | None = None
    # What the sale counts for in period_id, in the team's currency: the amount itself, or the
    # amount converted at the period's rate (fx_rate); null while no rate values it.
    counted_amount: Decimal | None = None
    counted_currency: str | None = None
    fx_rate: Decimal | None = None


class SaleRecorded(_SaleFacts):
    """A sale was recorded (from a CRM webhook or by hand)."""

    TYPE: ClassVar[str] = "attain.performance.sale_recorded.v1"


class SaleAdjusted(_SaleFacts):
    """A sale's amount or credit changed."""

    TYPE: ClassVar[str] = "attain.performance.sale_adjusted.v1"

    old_amount: Decimal


class SaleReversed(_SaleFacts):
    """A sale no longer counts (deal left the won stage, refund)."""

    TYPE: ClassVar[str] = "attain.performance.sale_reversed.v1"


class SaleLost(_SaleFacts):
    """A deal closed lost: it never counts (a sale recorded before no longer does)."""

    TYPE: ClassVar[str] = "attain.performance.sale_lost.v1"

    reasons: list[str]


class AttainmentChanged(Event):
    """A member's attainment or status for a period changed."""

    TYPE: ClassVar[str] = "attain.performance.attainment_changed.v1"
    SUBJECT_FIELD: ClassVar[str] = "member_id"

    team_id: UUID
    member_id: UUID
    period_id: UUID
    target: Decimal
    achieved: Decimal
    percent: Decimal
    expected_to_date: Decimal
    projected: Decimal
    status: Status
    currency: str
    as_of: datetime


class ThresholdsChanged(Event):
    """A team's pace thresholds changed; goals judges the team's roll-up node by them."""

    TYPE: ClassVar[str] = "attain.performance.thresholds_changed.v1"

    team_id: UUID
    at_risk_below: Decimal
    struggling_below: Decimal
    hysteresis: Decimal
    min_elapsed_share: Decimal
    # Bumped by every change; readers apply only newer versions.
    version: int


class MemberFigures(BaseModel):
    """A member's standing as of the evaluation; performance's copy of the target, for reference."""

    model_config = ConfigDict(frozen=True)

    member_id: UUID
    target_id: UUID
    target_version: int
    target: Decimal
    achieved: Decimal
    projected: Decimal
    status: Status


class MemberSnapshot(MemberFigures):
    """What goals needs of one member to rebalance (the earlier name, in `shortfall_detected`)."""


class ShortfallDetected(Event):
    """Deprecated: one member entered 'struggling'. Still accepted; see team_shortfalls_detected."""

    TYPE: ClassVar[str] = "attain.performance.shortfall_detected.v1"
    SUBJECT_FIELD: ClassVar[str] = "member_id"

    team_id: UUID
    shortfall_id: UUID
    member_id: UUID
    period_id: UUID
    shortfall: Decimal
    currency: str
    as_of: datetime
    period_ends_at: datetime
    snapshot: list[MemberSnapshot]


class MemberShortfall(BaseModel):
    """A struggling member whose shortfall is not covered yet in their episode."""

    model_config = ConfigDict(frozen=True)

    shortfall_id: UUID
    member_id: UUID
    episode: int
    shortfall: Decimal
    # True when this evaluation opened the episode (feedback opens one check-in for it).
    new: bool


class TeamShortfallsDetected(Event):
    """One team evaluation: every uncovered struggling member, and the whole team's figures.

    Replaces one `shortfall_detected` per member: goals answers the team with one decision that
    recomputes shortfalls and headroom from its own current targets and these figures.
    """

    TYPE: ClassVar[str] = "attain.performance.team_shortfalls_detected.v1"
    SUBJECT_FIELD: ClassVar[str] = "team_id"

    team_id: UUID
    evaluation_id: UUID
    period_id: UUID
    currency: str
    as_of: datetime
    period_ends_at: datetime
    shortfalls: list[MemberShortfall]
    standings: list[MemberFigures]


class ShortfallRecovered(Event):
    """A member out of a shortfall episode is on track and projected above their target again.

    Announced once per episode, so goals can hand back what the episode moved away, as far as the
    member's own headroom (projected - target) carries it.
    """

    TYPE: ClassVar[str] = "attain.performance.shortfall_recovered.v1"
    SUBJECT_FIELD: ClassVar[str] = "member_id"

    team_id: UUID
    member_id: UUID
    period_id: UUID
    shortfall_id: UUID
    episode: int
    currency: str
    as_of: datetime
    standings: list[MemberFigures]


class MemberResult(BaseModel):
    """A member's final result in a closed period."""

    model_config = ConfigDict(frozen=True)

    member_id: UUID
    target: Decimal
    achieved: Decimal


class PeriodClosed(Event):
    """A period ended; final results per member of the team."""

    TYPE: ClassVar[str] = "attain.performance.period_closed.v1"
    SUBJECT_FIELD: ClassVar[str] = "period_id"

    team_id: UUID
    period_id: UUID
    period_name: str
    starts_on: date
    ends_on: date
    currency: str
    results: list[MemberResult]
