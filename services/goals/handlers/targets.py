"""Target use cases: read, hand edits, the change ledger, acknowledgement."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from services.goals.adapters.orm import ChangeRequest, Plan, Target, TargetChange, Team
from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from services.goals.domain.rebalancing import plan_adjustment
from services.goals.handlers.access import can_manage, manages
from services.goals.handlers.guard import hold_manual_edit, lifts_team
from services.goals.handlers.ledger import apply_new_targets, policy_for, positions_of
from shared.auth import Principal
from shared.domain_errors import Conflict, Forbidden, NotFound
from shared.events.goals import TargetAcknowledged
from shared.http import check_if_match
from shared.money import to_minor
from shared.timeutil import utcnow


@dataclass(frozen=True, kw_only=True)
class EditTarget:
    """Set a target by hand; the team total moves only when team_total_changes."""

    target_id: uuid.UUID
    amount: Decimal
    reason: str
    team_total_changes: bool = False
    if_match: str | None = None


@dataclass(frozen=True, kw_only=True)
class AcknowledgeTarget:
    """The rep owning a published target acknowledges it."""

    target_id: uuid.UUID


async def _load_target(
    uow: GoalsUnitOfWork, principal: Principal, target_id: uuid.UUID, *, write: bool
) -> tuple[Target, Team, Plan]:
    target = await uow.repo.get(Target, org_id=principal.org, id=target_id, what="target")
    team = await uow.repo.get(Team, org_id=principal.org, id=target.team_id, what="team")
    plan = await uow.repo.get(Plan, org_id=principal.org, id=target.plan_id, what="plan")
    if await manages(uow, principal, team):
        return target, team, plan
    if principal.member_id != target.member_id:
        # Another rep's target does not exist for this caller: ids and amounts do not leak.
        raise NotFound(f"target {target_id} not found")
    if write:
        raise Forbidden("only an admin or the team's manager may change targets")
    return target, team, plan


async def get_target(target_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal) -> Target:
    """Read a target with its derivation."""
    async with uow:
        target, _, _ = await _load_target(uow, principal, target_id, write=False)
        return target


async def target_history(
    target_id: uuid.UUID,
    *,
    uow: GoalsUnitOfWork,
    principal: Principal,
    cursor: str | None,
    limit: int,
) -> tuple[Target, list[TargetChange], str | None]:
    """The ledger of a target, oldest first."""
    async with uow:
        target, _, _ = await _load_target(uow, principal, target_id, write=False)
        rows, nxt = await uow.repo.changes(
            org_id=principal.org, target_id=target.id, cursor=cursor, limit=limit
        )
        return target, rows, nxt


async def changes_since_acknowledgement(
    target_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal
) -> tuple[Target, list[TargetChange]]:
    """What changed a target since its rep last acknowledged it (everything, if never)."""
    async with uow:
        target, _, _ = await _load_target(uow, principal, target_id, write=False)
        since = target.acknowledged_version or 0
        return target, await uow.repo.ledger(
            org_id=principal.org, target_id=target.id, after_version=since
        )


@dataclass(frozen=True)
class HeldEdit:
    """A manual edit the guard holds: the change request waiting for a senior approver."""

    request: ChangeRequest


async def edit_target(
    cmd: EditTarget, *, uow: GoalsUnitOfWork, principal: Principal
) -> Target | HeldEdit:
    """A manager sets a target by hand; the others balance it unless the team total changes.

    An edit the adjustment guard flags waits, as a change request, for a senior approver
    (unless an admin made it).
    """
    async with uow:
        target, team, plan = await _load_target(uow, principal, cmd.target_id, write=True)
        check_if_match(cmd.if_match, target.version)
        new = to_minor(cmd.amount, team.currency)
        if cmd.team_total_changes and not principal.is_admin:
            if await lifts_team(uow, team, plan, new - target.amount_minor):
                row = await hold_manual_edit(
                    uow, principal, team, plan, target, new_minor=new, reason=cmd.reason
                )
                await uow.commit()
                return HeldEdit(row)
        await apply_edit(
            uow,
            team=team,
            plan=plan,
            target=target,
            new_minor=new,
            team_total_changes=cmd.team_total_changes,
            actor=principal.sub,
            note=cmd.reason,
        )
        await uow.commit()
    return target


async def apply_edit(
    uow: GoalsUnitOfWork,
    *,
    team: Team,
    plan: Plan,
    target: Target,
    new_minor: int,
    team_total_changes: bool,
    actor: str,
    note: str,
    reason: str = "manual",
    flag: str | None = None,
) -> None:
    """Set one target; the others balance it (within the rules) unless the team total changes."""
    active = {m.id for m in await uow.repo.active_members(org_id=team.org_id, team_id=team.id)}
    if target.member_id not in active:
        raise Conflict("the member of this target has left the team")
    targets = await uow.repo.targets_of(org_id=team.org_id, plan_id=plan.id)
    target = next(t for t in targets if t.id == target.id)
    positions = await positions_of(uow=uow, plan=plan, targets=targets, members=active)
    adjustment = plan_adjustment(
        member_id=target.member_id,
        delta_minor=new_minor - target.amount_minor,
        team=positions,
        policy=await policy_for(uow=uow, org=team.org_id, team_id=team.id),
        team_total_changes=team_total_changes,
    )
    apply_new_targets(
        uow=uow,
        plan=plan,
        targets=targets,
        new_targets=adjustment.new_targets,
        reason=reason,
        actor=actor,
        note=note,
        flag=flag,
    )
    if team_total_changes and adjustment.delta_minor:
        plan.target_minor += adjustment.delta_minor
        plan.version += 1
        uow.repo.add(plan)


async def acknowledge_target(
    cmd: AcknowledgeTarget, *, uow: GoalsUnitOfWork, principal: Principal
) -> Target:
    """The rep owning a published target acknowledges it (again: no change)."""
    async with uow:
        target = await uow.repo.get(Target, org_id=principal.org, id=cmd.target_id, what="target")
        team = await uow.repo.get(Team, org_id=principal.org, id=target.team_id, what="team")
        if principal.member_id != target.member_id:
            if can_manage(principal, team):
                raise Forbidden("only the member owning a target can acknowledge it")
            raise NotFound(f"target {cmd.target_id} not found")
        plan = await uow.repo.get(Plan, org_id=principal.org, id=target.plan_id, what="plan")
        if plan.status != "published":
            raise Conflict("the plan is not published yet")
        if target.acknowledged_at is None:
            target.acknowledged_at = utcnow()
            target.acknowledged_version = target.version
            uow.repo.add(target)
            uow.emit(
                TargetAcknowledged(
                    org_id=target.org_id,
                    team_id=target.team_id,
                    target_id=target.id,
                    member_id=target.member_id,
                    period_id=target.period_id,
                    version=target.version,
                    acknowledged_at=target.acknowledged_at,
                )
            )
            await uow.commit()
    return target
