"""Goals' answer to a recovered giver: hand back what their episode moved away, once."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from services.goals.adapters.orm import Plan, Rebalance, Target, Team
from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from services.goals.domain.give_back import GiveBackPlan, Given, plan_give_back
from services.goals.handlers.ledger import policy_for
from services.goals.handlers.shortfalls import (
    Figures,
    apply_rebalance,
    figures_from,
    positions_from,
)
from shared.events import Envelope
from shared.events.performance import ShortfallRecovered

log = logging.getLogger(__name__)


def episode_rows(history: Sequence[Rebalance], shortfall_id: str) -> list[Rebalance]:
    """The rebalances that moved target away in one shortfall episode, oldest first."""
    return [
        r
        for r in history
        if r.kind == "shortfall"
        and r.status in ("applied", "approved")
        and any(g.get("shortfall_id") == shortfall_id for g in r.givers)
    ]


def given_away(rows: Sequence[Rebalance], member_id: uuid.UUID) -> list[Given]:
    """Every transfer away from a member in these rebalances; later rows are newer."""
    return [
        Given(to_member=uuid.UUID(t["to"]), amount_minor=int(t["amount_minor"]), order=order)
        for order, row in enumerate(rows)
        for t in row.transfers
        if t["from"] == str(member_id)
    ]


async def plan_for(
    uow: GoalsUnitOfWork,
    *,
    team: Team,
    targets: Sequence[Target],
    figures: Sequence[Figures],
    member_id: uuid.UUID,
    shortfall_id: uuid.UUID,
) -> GiveBackPlan | None:
    """The give-back of a member's episode on the current targets; None if it gave nothing."""
    history = await uow.repo.team_rebalances(
        org_id=team.org_id, team_id=team.id, period_id=targets[0].period_id
    )
    given = given_away(episode_rows(history, str(shortfall_id)), member_id)
    positions = await positions_from(uow, team, targets, figures)
    giver = next((p for p in positions if p.member_id == member_id), None)
    if not given or giver is None:
        return None
    return plan_give_back(giver=giver, given=given, team=positions)


def record_give_back(row: Rebalance, plan: GiveBackPlan, targets: Sequence[Target]) -> None:
    """Write a give-back plan onto its rebalance row."""
    row.requested_minor = plan.given_minor
    row.moved_minor = plan.returned_minor
    row.uncovered_minor = plan.given_minor - plan.returned_minor
    row.givers = [
        {
            "member_id": str(row.giver_id),
            "shortfall_id": str(row.shortfall_id),
            "requested_minor": plan.given_minor,
            "moved_minor": plan.returned_minor,
            "uncovered_minor": plan.given_minor - plan.returned_minor,
        }
    ]
    row.transfers = [
        {"from": str(t.from_member), "to": str(t.to_member), "amount_minor": t.amount_minor}
        for t in plan.transfers
    ]
    row.new_targets = {str(k): v for k, v in plan.new_targets.items()}
    row.target_versions = {str(t.id): t.version for t in targets if t.member_id in plan.new_targets}


async def on_shortfall_recovered(
    event: ShortfallRecovered, envelope: Envelope, uow: GoalsUnitOfWork
) -> None:
    """Hand a recovered giver back what their episode moved away, by the team's policy."""
    org = event.org_id
    if await uow.repo.rebalance_by_source(org_id=org, source_event_id=envelope.id) is not None:
        return
    team = await uow.repo.find(Team, org_id=org, id=event.team_id)
    if team is None:
        log.warning("recovery for unknown team %s; skipped", event.team_id)
        return
    history = await uow.repo.team_rebalances(org_id=org, team_id=team.id, period_id=event.period_id)
    if any(r.kind == "give_back" and r.shortfall_id == event.shortfall_id for r in history):
        return  # one give-back per episode
    plan: Plan | None = await uow.repo.plan_of(
        org_id=org, team_id=team.id, period_id=event.period_id
    )
    if plan is None or plan.status != "published":
        return
    targets = await uow.repo.targets_of(org_id=org, plan_id=plan.id)
    figures = [figures_from(s, event.currency) for s in event.standings]
    give_back = await plan_for(
        uow,
        team=team,
        targets=targets,
        figures=figures,
        member_id=event.member_id,
        shortfall_id=event.shortfall_id,
    )
    if give_back is None:
        return  # the episode moved nothing away
    row = Rebalance.model_validate(
        {
            "org_id": org,
            "team_id": team.id,
            "period_id": event.period_id,
            "plan_id": plan.id,
            "giver_id": event.member_id,
            "shortfall_id": event.shortfall_id,
            "source_event_id": envelope.id,
            "kind": "give_back",
            "status": "skipped",
            "currency": team.currency,
            "as_of": event.as_of,
        }
    )
    record_give_back(row, give_back, targets)
    row.figures = [f.stored() for f in figures]
    mode = (await policy_for(uow=uow, org=org, team_id=team.id)).give_back
    if mode == "off":
        row.reason = "policy_off"
    elif not give_back.transfers:
        row.reason = "nothing_to_give_back"
    elif mode == "auto":
        row.status = "applied"
        await apply_rebalance(uow=uow, row=row, plan=plan, targets=targets, applied="auto")
    else:
        row.status = "proposed"
    uow.repo.add(row)
    await uow.repo.flush()
