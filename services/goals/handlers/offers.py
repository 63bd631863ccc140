"""Consent offers: open a round instead of moving target, take the reps' answers, settle it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from services.goals.adapters.orm import Rebalance, RebalanceOffer, Target, Team
from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from services.goals.domain.offers import accept, with_answer
from services.goals.domain.team_rebalance import plan_team_rebalance
from services.goals.handlers.ledger import policy_for
from services.goals.handlers.offer_round import round_of
from services.goals.handlers.shortfalls import (
    apply_rebalance,
    figures_of,
    plan_of_row,
    positions_from,
    record_plan,
    shortfall_ids_of,
)
from shared.auth import Principal
from shared.domain_errors import Conflict, Forbidden
from shared.events.goals import OfferAccepted
from shared.money import from_minor, to_minor
from shared.timeutil import utcnow


@dataclass(frozen=True, kw_only=True)
class AcceptOffer:
    """A rep takes all or part of what they were offered (0 declines)."""

    rebalance_id: uuid.UUID
    member_id: uuid.UUID
    amount: Decimal


async def accept_offer(
    cmd: AcceptOffer, *, uow: GoalsUnitOfWork, principal: Principal
) -> tuple[Rebalance, list[RebalanceOffer]]:
    """Record one rep's answer; the last answer settles the round at once."""
    async with uow:
        row = await uow.repo.get(
            Rebalance, org_id=principal.org, id=cmd.rebalance_id, what="rebalance"
        )
        if principal.member_id != cmd.member_id:
            # Consent is the rep's own: a manager cannot volunteer someone else.
            raise Forbidden("only the rep the offer was made to may accept it")
        if not await uow.repo.hold_open_round(org_id=principal.org, rebalance_id=row.id):
            raise Conflict("the offer round is settled; nothing can be accepted any more")
        # Read under the hold, so answers committed just before this one are seen.
        offers = await uow.repo.offers_of(org_id=principal.org, rebalance_id=row.id)
        mine = next((o for o in offers if o.member_id == cmd.member_id), None)
        if mine is None:
            raise Forbidden(f"no offer of this rebalance was made to {cmd.member_id}")
        now = utcnow()
        round_ = round_of(row, offers)
        answer = accept(round_, cmd.member_id, to_minor(cmd.amount, row.currency), now)
        mine.accepted_minor, mine.answered_at = answer.accepted_minor, now
        mine.version += 1
        uow.repo.add(mine)
        uow.emit(
            OfferAccepted(
                org_id=row.org_id,
                team_id=row.team_id,
                rebalance_id=row.id,
                period_id=row.period_id,
                member_id=cmd.member_id,
                offered=from_minor(mine.offered_minor, row.currency),
                accepted=from_minor(answer.accepted_minor or 0, row.currency),
                currency=row.currency,
            )
        )
        if with_answer(round_, answer).is_due(now):
            await settle(uow, row, offers, now)
        await uow.commit()
    return row, offers


async def settle(
    uow: GoalsUnitOfWork, row: Rebalance, offers: Sequence[RebalanceOffer], now: datetime
) -> None:
    """Run the water-fill over the accepted room only and apply it as a rebalance (caller holds
    the round and commits)."""
    plan = await plan_of_row(uow, row)
    team = await uow.repo.get(Team, org_id=row.org_id, id=row.team_id, what="team")
    targets: list[Target] = await uow.repo.targets_of(org_id=row.org_id, plan_id=plan.id)
    fresh = plan_team_rebalance(
        givers=[uuid.UUID(g["member_id"]) for g in row.givers],
        team=await positions_from(uow, team, targets, figures_of(row)),
        policy=await policy_for(uow=uow, org=row.org_id, team_id=team.id),
        accepted=round_of(row, offers).accepted(),
    )
    record_plan(row, fresh, shortfall_ids_of(row))
    row.target_versions = {
        str(t.id): t.version for t in targets if t.member_id in fresh.new_targets
    }
    row.decided_at = now
    if fresh.transfers:
        row.status = "applied"
        await apply_rebalance(uow=uow, row=row, plan=plan, targets=targets, applied="offer")
    else:
        row.status, row.reason = "skipped", "nothing_accepted"
    uow.repo.add(row)


async def settle_expired_rounds(
    *, uow_factory: Callable[[], GoalsUnitOfWork], now: datetime | None = None
) -> int:
    """Settle every offer round that expired; safe with several replicas."""
    now = now or utcnow()
    async with uow_factory() as uow:
        due = await uow.repo.expired_offer_rounds(now=now)
    settled = 0
    for org_id, rebalance_id in due:
        async with uow_factory() as uow:
            if not await uow.repo.hold_open_round(org_id=org_id, rebalance_id=rebalance_id):
                continue  # an answer or another replica settled it first
            row = await uow.repo.get(Rebalance, org_id=org_id, id=rebalance_id, what="rebalance")
            await settle(
                uow, row, await uow.repo.offers_of(org_id=org_id, rebalance_id=rebalance_id), now
            )
            await uow.commit()
            settled += 1
    return settled
