"""Competitors: the read model of deals won and lost against them, and the team's view of it."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from services.feedback.adapters.orm import CompetitorDeal, IntelItem
from services.feedback.adapters.unit_of_work import FeedbackUnitOfWork
from services.feedback.domain.competitors import CompetitorStanding, competitor_key, standings
from services.feedback.handlers.access import visible_team
from shared.auth import Principal
from shared.events import Envelope
from shared.events.performance import SaleAdjusted, SaleLost, SaleRecorded, SaleReversed
from shared.money import to_minor

SaleFact = SaleRecorded | SaleAdjusted | SaleReversed | SaleLost


@dataclass(frozen=True)
class CompetitorView:
    """One competitor's standing for the team, with the latest intel about them."""

    standing: CompetitorStanding
    latest_intel: IntelItem | None


def _outcome(event: SaleFact) -> str:
    if isinstance(event, SaleLost):
        return "lost"
    if isinstance(event, SaleRecorded | SaleAdjusted) and competitor_key(event.competitor):
        return "won"
    return "none"  # reversed, or won against nobody named


async def on_sale_fact(event: SaleFact, envelope: Envelope, uow: FeedbackUnitOfWork) -> None:
    """Keep the sale's latest state against its competitor; an older version changes nothing."""
    row = await uow.competitors.get(org_id=event.org_id, sale_id=event.sale_id)
    if row is not None and row.version >= event.version:
        return
    outcome = _outcome(event)
    if row is None and outcome == "none":
        return  # a sale never won or lost against a competitor is none of this view's business
    values = {
        "sale_id": event.sale_id,
        "org_id": event.org_id,
        "team_id": event.team_id,
        "period_id": event.period_id,
        "competitor": event.competitor,
        "competitor_key": competitor_key(event.competitor),
        "outcome": outcome,
        "amount_minor": to_minor(event.amount, event.currency),
        "currency": event.currency,
        "reasons": list(event.reasons) if isinstance(event, SaleLost) else [],
        "closed_at": event.closed_at,
        "version": event.version,
    }
    if row is None:
        row = CompetitorDeal.model_validate(values)
    else:
        for name, value in values.items():
            setattr(row, name, value)
    uow.competitors.put(row)


async def competitor_view(
    team_id: UUID, *, period_id: UUID | None, uow: FeedbackUnitOfWork, principal: Principal
) -> list[CompetitorView]:
    """Per competitor: deals won and lost against them, top loss reasons, latest intel."""
    async with uow:
        team = await visible_team(uow, principal, team_id)
        rows = await uow.competitors.for_team(
            org_id=principal.org, team_id=team.id, period_id=period_id
        )
        summary = standings(rows)
        latest = await uow.intel.latest_about(
            org_id=principal.org,
            team_id=team.id,
            competitor_keys=sorted({s.competitor_key for s in summary}),
        )
    return [CompetitorView(standing=s, latest_intel=latest.get(s.competitor_key)) for s in summary]
