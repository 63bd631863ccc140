"""Change request use cases: the team's change policy, asking, approving, refusing, disputing.

An approved request sets the target through the ledger (reason `change_request`) and moves the
plan's total by the difference: the change is the decision, so nobody else's target moves. A
held relief (origin `relief`) is applied as the absence would have, recomputed at approval.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import get_args

from services.goals.adapters.orm import ChangePolicy, ChangeRequest, Period, Plan, Target, Team
from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from services.goals.domain import change_requests as domain
from services.goals.domain.change_requests import MANAGER_INCENTIVE
from services.goals.handlers.access import load_team, manages
from services.goals.handlers.guard import is_senior, lifts_team, open_request, request_facts
from services.goals.handlers.relief import apply_held_relief
from services.goals.handlers.targets import apply_edit
from shared.auth import Principal
from shared.domain_errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.events.goals import (
    ChangeRequestApproved,
    ChangeRequestDisputed,
    ChangeRequestRejected,
)
from shared.http import check_if_match
from shared.money import to_minor
from shared.timeutil import utcnow


@dataclass(frozen=True, kw_only=True)
class SetChangePolicy:
    """Set a team's limits on change requests."""

    team_id: uuid.UUID
    max_changes_per_rep_per_period: int | None
    notice_days: int
    second_approver_above_pct: Decimal
    if_match: str | None = None


@dataclass(frozen=True, kw_only=True)
class RequestChange:
    """Ask for a target to be set to a new amount."""

    target_id: uuid.UUID
    amount: Decimal
    reason: str
    evidence: str | None = None


@dataclass(frozen=True, kw_only=True)
class DecideChange:
    """Approve (rationale optional) or refuse (rationale required) a change request."""

    change_request_id: uuid.UUID
    rationale: str | None = None


def default_change_policy(team: Team) -> ChangePolicy:
    """The change policy of a team that never set one."""
    return ChangePolicy.model_validate({"team_id": team.id, "org_id": team.org_id, "version": 0})


def _rules(row: ChangePolicy) -> domain.ChangePolicy:
    return domain.ChangePolicy(
        max_changes_per_rep_per_period=row.max_changes_per_rep_per_period,
        notice_days=row.notice_days,
        second_approver_above_pct=Decimal(row.second_approver_above_pct),
    )


async def get_change_policy(
    team_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal
) -> ChangePolicy:
    """A team's change policy (the defaults when never set)."""
    async with uow:
        team = await load_team(uow, principal, team_id, write=False)
        return await _policy_row(uow, team)


async def _policy_row(uow: GoalsUnitOfWork, team: Team) -> ChangePolicy:
    row = await uow.repo.find(ChangePolicy, org_id=team.org_id, id=team.id)
    return row if row is not None else default_change_policy(team)


async def set_change_policy(
    cmd: SetChangePolicy, *, uow: GoalsUnitOfWork, principal: Principal
) -> ChangePolicy:
    """Set a team's change policy (the manager, a manager above, or an admin)."""
    async with uow:
        team = await load_team(uow, principal, cmd.team_id, write=True)
        row = await _policy_row(uow, team)
        check_if_match(cmd.if_match, row.version)
        row.max_changes_per_rep_per_period = cmd.max_changes_per_rep_per_period
        row.notice_days = cmd.notice_days
        row.second_approver_above_pct = str(cmd.second_approver_above_pct)
        row.version += 1
        row.updated_at = utcnow()
        uow.repo.add(row)
        await uow.commit()
        return row


async def request_change(
    cmd: RequestChange, *, uow: GoalsUnitOfWork, principal: Principal
) -> ChangeRequest:
    """The rep (own target) or a manager of the team asks for a target change."""
    async with uow:
        target = await uow.repo.get(Target, org_id=principal.org, id=cmd.target_id, what="target")
        team = await uow.repo.get(Team, org_id=principal.org, id=target.team_id, what="team")
        if principal.member_id != target.member_id and not await manages(uow, principal, team):
            raise NotFound(f"target {cmd.target_id} not found")
        plan = await uow.repo.get(Plan, org_id=principal.org, id=target.plan_id, what="plan")
        if plan.status != "published":
            raise Conflict("change requests are for published plans", reason="not_published")
        period = await uow.repo.get(Period, org_id=principal.org, id=plan.period_id, what="period")
        new = to_minor(cmd.amount, team.currency)
        if new == target.amount_minor:
            raise InvalidInput("the amount is the target's current amount", field="amount")
        rules = _rules(await _policy_row(uow, team))
        domain.check_may_request(
            open_or_approved=await uow.repo.counted_change_requests(
                org_id=principal.org, target_id=target.id
            ),
            policy=rules,
            today=utcnow().date(),
            period_ends_on=period.ends_on,
        )
        flags = domain.flags_for(
            old_minor=target.amount_minor,
            new_minor=new,
            policy=rules,
            manager_incentive=await lifts_team(uow, team, plan, new - target.amount_minor),
        )
        row = open_request(
            uow,
            team=team,
            plan=plan,
            target=target,
            new_minor=new,
            reason=cmd.reason,
            evidence=cmd.evidence,
            requested_by=principal.sub,
            flags=flags,
        )
        await uow.commit()
        return row


#: The stored state of a request, as the domain's literal.
_STATES: Mapping[str, domain.State] = {state: state for state in get_args(domain.State)}


def _state(row: ChangeRequest) -> domain.ChangeRequest:
    return domain.ChangeRequest(
        requester=row.requested_by,
        state=_STATES[row.state],
        approvals=tuple(domain.Approval(a["approver"], a["senior"]) for a in row.approvals),
        flags=tuple(row.flags),
        disputed=row.disputed_at is not None,
    )


async def _load(
    uow: GoalsUnitOfWork, principal: Principal, change_request_id: uuid.UUID
) -> tuple[ChangeRequest, Team]:
    """A request the caller may see: the rep it is about, its requester, or a manager of the team."""
    row = await uow.repo.get(
        ChangeRequest, org_id=principal.org, id=change_request_id, what="change request"
    )
    team = await uow.repo.get(Team, org_id=principal.org, id=row.team_id, what="team")
    if principal.member_id == row.member_id or principal.sub == row.requested_by:
        return row, team
    if not await manages(uow, principal, team):
        raise NotFound(f"change request {change_request_id} not found")
    return row, team


async def _decider(
    uow: GoalsUnitOfWork, principal: Principal, change_request_id: uuid.UUID
) -> tuple[ChangeRequest, Team]:
    row, team = await _load(uow, principal, change_request_id)
    if not await manages(uow, principal, team):
        raise Forbidden("only a manager of the team (or above it) or an admin decides")
    return row, team


async def get_change_request(
    change_request_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal
) -> ChangeRequest:
    """Read one change request."""
    async with uow:
        row, _ = await _load(uow, principal, change_request_id)
        return row


async def list_change_requests(
    team_id: uuid.UUID,
    *,
    state: str | None,
    uow: GoalsUnitOfWork,
    principal: Principal,
    cursor: str | None,
    limit: int,
) -> tuple[list[ChangeRequest], str | None]:
    """The team's change requests, oldest first; a rep sees only those about them."""
    async with uow:
        team = await load_team(uow, principal, team_id, write=False)
        only = None if await manages(uow, principal, team) else principal.member_id
        return await uow.repo.change_requests(
            org_id=principal.org,
            team_id=team.id,
            state=state,
            member_id=only,
            cursor=cursor,
            limit=limit,
        )


async def approve_change(
    cmd: DecideChange, *, uow: GoalsUnitOfWork, principal: Principal
) -> ChangeRequest:
    """Add the caller's approval; with every approval it needs, the target changes."""
    async with uow:
        row, team = await _decider(uow, principal, cmd.change_request_id)
        target = await uow.repo.get(Target, org_id=principal.org, id=row.target_id, what="target")
        plan = await uow.repo.get(Plan, org_id=principal.org, id=row.plan_id, what="plan")
        state = _state(row)
        if state.state == "pending" and await lifts_team(
            uow, team, plan, row.new_minor - target.amount_minor
        ):
            state = domain.flag(state, MANAGER_INCENTIVE)  # the figures moved since the request
        state = domain.approve(
            state, approver=principal.sub, senior=await is_senior(uow, principal, team)
        )
        if state.state == "approved" and target.version != row.target_version:
            raise Conflict(
                "the target changed since the request; refuse it, or ask again",
                reason="target_changed",
                target_version=target.version,
            )
        row.approvals = [
            *row.approvals,
            {
                "approver": principal.sub,
                "senior": state.approvals[-1].senior,
                "at": utcnow().isoformat(),
                "rationale": cmd.rationale,
            },
        ]
        row.flags = list(state.flags)
        if state.state == "approved":
            await _apply(uow, row, team, plan, target, principal)
        _save(uow, row)
        await uow.commit()
        return row


async def _apply(
    uow: GoalsUnitOfWork,
    row: ChangeRequest,
    team: Team,
    plan: Plan,
    target: Target,
    principal: Principal,
) -> None:
    row.state, row.decided_by, row.decided_at = "approved", principal.sub, utcnow()
    if row.origin == "relief":
        await apply_held_relief(uow, principal, row, plan, target)
    else:
        await apply_edit(
            uow,
            team=team,
            plan=plan,
            target=target,
            new_minor=row.new_minor,
            team_total_changes=row.team_total_changes,
            actor=principal.sub,
            note=f"change request {row.id}: {row.reason}"[:1000],
            reason="change_request" if row.origin == "request" else "manual",
            flag=MANAGER_INCENTIVE if MANAGER_INCENTIVE in row.flags else None,
        )
    uow.emit(
        ChangeRequestApproved(
            **request_facts(row), approved_by=[a["approver"] for a in row.approvals]
        )
    )


def _save(uow: GoalsUnitOfWork, row: ChangeRequest) -> None:
    row.version += 1
    uow.repo.add(row)


async def reject_change(
    cmd: DecideChange, *, uow: GoalsUnitOfWork, principal: Principal
) -> ChangeRequest:
    """Refuse a change request with a rationale; nothing changes."""
    async with uow:
        row, _ = await _decider(uow, principal, cmd.change_request_id)
        rationale = cmd.rationale or ""
        state = domain.reject(_state(row), by=principal.sub, rationale=rationale)
        row.state, row.rationale = state.state, rationale
        row.decided_by, row.decided_at = principal.sub, utcnow()
        uow.emit(
            ChangeRequestRejected(
                **request_facts(row), rejected_by=principal.sub, rationale=rationale
            )
        )
        _save(uow, row)
        await uow.commit()
        return row


async def withdraw_change(
    change_request_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal
) -> ChangeRequest:
    """The requester takes back a pending request."""
    async with uow:
        row, _ = await _load(uow, principal, change_request_id)
        row.state = domain.withdraw(_state(row), by=principal.sub).state
        row.decided_by, row.decided_at = principal.sub, utcnow()
        _save(uow, row)
        await uow.commit()
        return row


async def dispute_change(
    change_request_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal
) -> tuple[ChangeRequest, uuid.UUID]:
    """The rep turns a refused request into a `target` dispute, which feedback opens."""
    async with uow:
        row, _ = await _load(uow, principal, change_request_id)
        domain.dispute(_state(row), by=principal.sub, owner=str(row.member_id))
        # The dispute's id is chosen here, so the caller can follow it in feedback at once.
        dispute_id = domain.dispute_id_of(row.id)
        row.disputed_at = utcnow()
        uow.emit(
            ChangeRequestDisputed(
                **request_facts(row),
                dispute_id=dispute_id,
                rejected_by=row.decided_by or "",
                rationale=row.rationale or "",
            )
        )
        _save(uow, row)
        await uow.commit()
        return row, dispute_id
