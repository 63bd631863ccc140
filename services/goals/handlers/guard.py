"""The adjustment guard in use: which changes lift a manager's team, who counts as senior.

A change of a team's total is flagged `manager_incentive` when it lifts the team across 100 %
projected attainment; a flagged change (a manual edit, or the relief of an absence) waits, as a
change request, for a senior approver.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.goals.adapters.orm import ChangeRequest, Plan, Target, TargetChange, Team
from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from services.goals.domain.adjustment_guard import (
    AdjustmentProfile,
    TeamLevel,
    adjustment_profile,
    teams_lifted,
)
from services.goals.domain.change_requests import MANAGER_INCENTIVE
from services.goals.handlers.access import load_team, manages
from services.goals.handlers.hierarchy import team_figures
from shared.auth import Principal
from shared.domain_errors import NotFound
from shared.events.goals import ChangeRequested
from shared.money import from_minor


async def lifts_team(uow: GoalsUnitOfWork, team: Team, plan: Plan, total_delta_minor: int) -> bool:
    """Whether moving the plan's total by this much lifts the team across 100 % as projected.

    A team above does not move: its plan's total is its own, set apart from its children's.
    """
    if not total_delta_minor or plan.status != "published":
        return False
    _, projected, _ = await team_figures(uow, team, plan)
    level = TeamLevel(
        team_id=team.id,
        projected_minor=projected,
        total_before_minor=plan.target_minor,
        total_after_minor=plan.target_minor + total_delta_minor,
    )
    return bool(teams_lifted([level]))


async def is_senior(uow: GoalsUnitOfWork, principal: Principal, team: Team) -> bool:
    """An admin, or a manager of a team above this one (a second approver)."""
    if principal.is_admin:
        return True
    if team.parent_team_id is None:
        return False
    parent = await uow.repo.find(Team, org_id=team.org_id, id=team.parent_team_id)
    return parent is not None and await manages(uow, principal, parent)


def open_request(
    uow: GoalsUnitOfWork,
    *,
    team: Team,
    plan: Plan,
    target: Target,
    new_minor: int,
    reason: str,
    requested_by: str,
    flags: tuple[str, ...],
    origin: str = "request",
    evidence: str | None = None,
    approvals: tuple[dict[str, object], ...] = (),
    team_total_changes: bool = True,
    absence_id: uuid.UUID | None = None,
) -> ChangeRequest:
    """Record a pending change request and announce it."""
    row = ChangeRequest.model_validate(
        {
            "org_id": team.org_id,
            "team_id": team.id,
            "period_id": plan.period_id,
            "plan_id": plan.id,
            "target_id": target.id,
            "member_id": target.member_id,
            "origin": origin,
            "currency": team.currency,
            "old_minor": target.amount_minor,
            "new_minor": new_minor,
            "target_version": target.version,
            "team_total_changes": team_total_changes,
            "absence_id": absence_id,
            "reason": reason,
            "evidence": evidence,
            "requested_by": requested_by,
            "approvals": list(approvals),
            "flags": list(flags),
        }
    )
    uow.repo.add(row)
    uow.emit(ChangeRequested(**request_facts(row), requested_by=requested_by))
    return row


def request_facts(row: ChangeRequest) -> dict[str, object]:
    """The fields every change request event carries."""
    return {
        "org_id": row.org_id,
        "team_id": row.team_id,
        "change_request_id": row.id,
        "target_id": row.target_id,
        "member_id": row.member_id,
        "period_id": row.period_id,
        "old_amount": from_minor(row.old_minor, row.currency),
        "new_amount": from_minor(row.new_minor, row.currency),
        "currency": row.currency,
        "origin": row.origin,
        "flags": list(row.flags),
        "reason": row.reason,
    }


async def hold_manual_edit(
    uow: GoalsUnitOfWork,
    principal: Principal,
    team: Team,
    plan: Plan,
    target: Target,
    *,
    new_minor: int,
    reason: str,
) -> ChangeRequest:
    """A flagged manual edit waits: the editor's decision is the first approval, a senior's the second."""
    return open_request(
        uow,
        team=team,
        plan=plan,
        target=target,
        new_minor=new_minor,
        reason=reason,
        requested_by=principal.sub,
        flags=(MANAGER_INCENTIVE,),
        origin="manual_edit",
        approvals=({"approver": principal.sub, "senior": False},),
    )


#: Ledger reasons that are a person's adjustment of one rep (not allocation or rebalancing).
ADJUSTMENTS = ("manual", "change_request", "relief", "dispute_outcome")


@dataclass(frozen=True)
class ProfileData:
    """What the adjustment profile of a team in a period is built from."""

    currency: str
    profile: AdjustmentProfile
    flagged_rows: list[tuple[TargetChange, uuid.UUID]]
    flagged_requests: list[ChangeRequest]


async def adjustment_profile_of(
    team_id: uuid.UUID, period_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal
) -> ProfileData:
    """Relief and uplift per rep by people's decisions, their concentration, the flagged changes."""
    async with uow:
        team = await load_team(uow, principal, team_id, write=True)
        plan = await uow.repo.plan_of(org_id=principal.org, team_id=team.id, period_id=period_id)
        if plan is None:
            raise NotFound(f"team {team_id} has no plan for period {period_id}")
        rows = await uow.repo.plan_changes(org_id=principal.org, plan_id=plan.id)
        requests = await uow.repo.period_change_requests(
            org_id=principal.org, team_id=team.id, period_id=period_id
        )
        return ProfileData(
            currency=team.currency,
            profile=adjustment_profile(
                (m, r.delta_minor) for r, m in rows if r.reason in ADJUSTMENTS
            ),
            flagged_rows=[(r, m) for r, m in rows if r.flag],
            flagged_requests=[
                r for r in requests if MANAGER_INCENTIVE in r.flags and r.state != "approved"
            ],
        )
