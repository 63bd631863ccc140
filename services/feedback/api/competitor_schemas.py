"""Wire models of the competitor view and the team meeting agenda."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel, Field

from services.feedback.api.coaching_schemas import IntelSummary
from services.feedback.handlers.competitors import CompetitorView
from services.feedback.handlers.meetings import MeetingAgenda
from shared.money import from_minor


class DealTally(BaseModel):
    """How many deals, for how much."""

    deals: int
    amount: Decimal = Field(examples=["31000.00"])


class LossReasonRead(BaseModel):
    """A loss reason and how many lost deals gave it."""

    reason: str = Field(examples=["price"])
    deals: int


class CompetitorRead(BaseModel):
    """Deals won and lost against one competitor (in one currency), and the latest intel."""

    competitor: str = Field(examples=["Globex"])
    currency: str = Field(examples=["EUR"])
    won: DealTally
    lost: DealTally
    top_loss_reasons: list[LossReasonRead]
    latest_intel: IntelSummary | None

    @classmethod
    def of(cls, view: CompetitorView) -> CompetitorRead:
        """Map one competitor's standing."""
        s = view.standing
        return cls(
            competitor=s.competitor,
            currency=s.currency,
            won=DealTally(deals=s.won_deals, amount=from_minor(s.won_minor, s.currency)),
            lost=DealTally(deals=s.lost_deals, amount=from_minor(s.lost_minor, s.currency)),
            top_loss_reasons=[
                LossReasonRead(reason=r.reason, deals=r.deals) for r in s.top_loss_reasons
            ],
            latest_intel=(
                IntelSummary.model_validate(view.latest_intel) if view.latest_intel else None
            ),
        )


class CompetitorsRead(BaseModel):
    """A team's competitors, the most lost against first."""

    team_id: UUID
    period_id: UUID | None
    competitors: list[CompetitorRead]


class MeetingAgendaRead(BaseModel):
    """A team meeting's next agenda: its standing items and the intel shared since the last one."""

    meeting_id: UUID
    occurs_at: datetime = Field(description="The occurrence this agenda is for")
    since: datetime | None = Field(description="The team's previous meeting (null: its first)")
    items: list[str]
    intel_shared: list[IntelSummary]

    @classmethod
    def of(cls, agenda: MeetingAgenda) -> MeetingAgendaRead:
        """Map a built agenda."""
        return cls(
            meeting_id=agenda.meeting.id,
            occurs_at=agenda.occurs_at,
            since=agenda.since,
            items=agenda.meeting.agenda,
            intel_shared=[IntelSummary.model_validate(i) for i in agenda.intel_shared],
        )
