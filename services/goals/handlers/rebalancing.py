"""Rebalancing use cases: a team's policy, and deciding on proposed rebalances."""

from __future__ import annotations

import uuid
from collections.abc import Hashable
from dataclasses import dataclass
from decimal import Decimal

from services.goals.adapters.orm import Rebalance, RebalanceOffer, RebalancePolicy, Team
from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from services.goals.domain.team_rebalance import plan_team_rebalance, with_held_back
from services.goals.handlers import give_back
from services.goals.handlers.access import load_member, load_team, manages
from services.goals.handlers.ledger import policy_for
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
from shared.http import check_if_match
from shared.timeutil import utcnow


@dataclass(frozen=True, kw_only=True)
class SetRebalancePolicy:
    """Set how a team answers shortfalls."""

    team_id: uuid.UUID
    mode: str
    max_increase_pct: Decimal
    cooldown_hours: int
    freeze_days_before_end: int
    max_decrease_pct: Decimal = Decimal(50)
    give_back: str = "propose"
    require_checkin_before_rebalance: bool = False
    offer_hours: int = 48
    if_match: str | None = None


@dataclass(frozen=True, kw_only=True)
class ApproveRebalance:
    """Apply a proposed rebalance."""

    rebalance_id: uuid.UUID


@dataclass(frozen=True, kw_only=True)
class RejectRebalance:
    """Reject a proposed rebalance."""

    rebalance_id: uuid.UUID


def default_policy(team: Team) -> RebalancePolicy:
    """The policy of a team that never set one."""
    return RebalancePolicy.model_validate({"team_id": team.id, "org_id": team.org_id, "version": 0})


async def get_policy(
    team_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal
) -> RebalancePolicy:
    """A team's rebalance policy."""
    async with uow:
        team = await load_team(uow, principal, team_id, write=False)
        return await uow.repo.policy_of(org_id=principal.org, team_id=team.id) or default_policy(
            team
        )


async def set_policy(
    cmd: SetRebalancePolicy, *, uow: GoalsUnitOfWork, principal: Principal
) -> RebalancePolicy:
    """Set a team's rebalance policy."""
    async with uow:
        team = await load_team(uow, principal, cmd.team_id, write=True)
        row = await uow.repo.policy_of(org_id=principal.org, team_id=team.id)
        check_if_match(cmd.if_match, row.version if row else 0)
        row = row or default_policy(team)
        row.mode = cmd.mode
        row.max_increase_pct = str(cmd.max_increase_pct)
        row.cooldown_hours = cmd.cooldown_hours
        row.freeze_days_before_end = cmd.freeze_days_before_end
        row.max_decrease_pct = str(cmd.max_decrease_pct)
        row.give_back = cmd.give_back
        row.require_checkin_before_rebalance = cmd.require_checkin_before_rebalance
        row.offer_hours = cmd.offer_hours
        row.version += 1
        row.updated_at = utcnow()
        uow.repo.add(row)
        await uow.commit()
    return row


async def list_rebalances(
    team_id: uuid.UUID,
    *,
    status: str | None,
    uow: GoalsUnitOfWork,
    principal: Principal,
    cursor: str | None,
    limit: int,
) -> tuple[list[Rebalance], str | None, dict[uuid.UUID, list[RebalanceOffer]]]:
    """Rebalances of a team, oldest first."""
    async with uow:
        team = await load_team(uow, principal, team_id, write=True)
        rows, nxt = await uow.repo.rebalances(
            org_id=principal.org, team_id=team.id, status=status, cursor=cursor, limit=limit
        )
        return rows, nxt, await offers_by_rebalance(uow, principal.org, rows)


async def _load_rebalance(
    uow: GoalsUnitOfWork, principal: Principal, rebalance_id: uuid.UUID
) -> Rebalance:
    row = await uow.repo.get(Rebalance, org_id=principal.org, id=rebalance_id, what="rebalance")
    await load_team(uow, principal, row.team_id, write=True)
    return row


async def _load_proposed(
    uow: GoalsUnitOfWork, principal: Principal, rebalance_id: uuid.UUID
) -> Rebalance:
    row = await _load_rebalance(uow, principal, rebalance_id)
    if row.status != "proposed":
        raise Conflict(f"the rebalance is {row.status}, not proposed")
    return row


async def get_rebalance(
    rebalance_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal
) -> tuple[Rebalance, list[RebalanceOffer]]:
    """One rebalance with its offers: for managers, or for a rep offered some of it (theirs only)."""
    async with uow:
        row = await uow.repo.get(Rebalance, org_id=principal.org, id=rebalance_id, what="rebalance")
        offers = await uow.repo.offers_of(org_id=principal.org, rebalance_id=row.id)
        team = await uow.repo.get(Team, org_id=principal.org, id=row.team_id, what="team")
        if await manages(uow, principal, team):
            return row, offers
        mine = [o for o in offers if o.member_id == principal.member_id]
        if not mine:
            raise Forbidden("only the team's managers and the reps offered uplift may read this")
        return row, mine


async def offers_by_rebalance(
    uow: GoalsUnitOfWork, org: uuid.UUID, rows: list[Rebalance]
) -> dict[uuid.UUID, list[RebalanceOffer]]:
    """The offers of each offer round among these rebalances."""
    return {
        r.id: await uow.repo.offers_of(org_id=org, rebalance_id=r.id)
        for r in rows
        if r.expires_at is not None
    }


async def approve_rebalance(
    cmd: ApproveRebalance, *, uow: GoalsUnitOfWork, principal: Principal
) -> Rebalance:
    """Apply a proposal, re-run on current targets; 409 if a person changed a target since."""
    async with uow:
        row = await _load_proposed(uow, principal, cmd.rebalance_id)
        plan = await plan_of_row(uow, row)
        team = await uow.repo.get(Team, org_id=principal.org, id=row.team_id, what="team")
        targets = await uow.repo.targets_of(org_id=principal.org, plan_id=plan.id)
        changed = await uow.repo.changed_by_person(
            org_id=principal.org, target_ids=[t.id for t in targets], after=row.created_at
        )
        if changed:
            raise Conflict(
                "a person changed targets since the proposal; it can only be rejected",
                changed_targets=sorted(str(t) for t in changed),
            )
        if row.kind == "give_back":
            if row.shortfall_id is None:  # every give-back row names the episode it returns
                raise Conflict("the give-back names no shortfall episode; reject it")
            back = await give_back.plan_for(
                uow,
                team=team,
                targets=targets,
                figures=figures_of(row),
                member_id=row.giver_id,
                shortfall_id=row.shortfall_id,
            )
            if back is None or not back.transfers:
                raise Conflict("nothing can be handed back on the current targets; reject it")
            give_back.record_give_back(row, back, targets)
        else:
            positions = await positions_from(uow, team, targets, figures_of(row))
            # Givers held back when it was proposed stay held back: approving moves the rest.
            held: dict[Hashable, str] = {
                uuid.UUID(g["member_id"]): g["held_back"] for g in row.givers if g.get("held_back")
            }
            fresh = plan_team_rebalance(
                givers=[uuid.UUID(g["member_id"]) for g in row.givers if not g.get("held_back")],
                team=positions,
                policy=await policy_for(uow=uow, org=principal.org, team_id=team.id),
            )
            if not fresh.transfers:
                raise Conflict("nothing can be placed on the current targets; reject it")
            fresh = with_held_back(fresh, positions, held)
            record_plan(row, fresh, shortfall_ids_of(row))
        row.status, row.decided_at, row.decided_by = "approved", utcnow(), principal.sub
        await apply_rebalance(uow=uow, row=row, plan=plan, targets=targets, applied="approved")
        uow.repo.add(row)
        await uow.commit()
    return row


async def reject_rebalance(
    cmd: RejectRebalance, *, uow: GoalsUnitOfWork, principal: Principal
) -> Rebalance:
    """Reject a proposed rebalance: nothing moves."""
    async with uow:
        row = await _load_proposed(uow, principal, cmd.rebalance_id)
        row.status, row.decided_at, row.decided_by = "rejected", utcnow(), principal.sub
        uow.repo.add(row)
        await uow.commit()
    return row


@dataclass(frozen=True)
class StatementLine:
    """One amount a rep gave (negative) or received (positive) in one rebalance."""

    rebalance: Rebalance
    counterparty_id: uuid.UUID
    amount_minor: int


async def transfer_statement(
    member_id: uuid.UUID, period_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal
) -> tuple[str, list[StatementLine]]:
    """Every amount a rep gave or received by rebalancing in a period, oldest first."""
    async with uow:
        member, team = await load_member(uow, principal, member_id, write=False)
        rows = await uow.repo.team_rebalances(
            org_id=principal.org, team_id=team.id, period_id=period_id
        )
    lines = []
    for row in rows:
        if row.status not in ("applied", "approved"):
            continue
        for t in row.transfers:
            amount = int(t["amount_minor"])
            if t["from"] == str(member.id):
                lines.append(StatementLine(row, uuid.UUID(t["to"]), -amount))
            elif t["to"] == str(member.id):
                lines.append(StatementLine(row, uuid.UUID(t["from"]), amount))
    return team.currency, lines
