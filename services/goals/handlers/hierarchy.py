"""The roll-up of a team tree in a period, from goals' targets and performance's standings.

Goals keeps the achieved and projected figures performance reports (`attainment_changed`), so
the roll-up is served here, next to the targets it sums, and follows every change below.
"""

from __future__ import annotations

import uuid

from services.goals.adapters.orm import Period, Plan, Team
from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from services.goals.domain.hierarchy import MAX_DEPTH, RollupNode, roll_up
from services.goals.handlers.access import load_team, manages
from shared.auth import Principal
from shared.domain_errors import Forbidden


async def rollup(
    team_id: uuid.UUID, period_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal
) -> tuple[RollupNode, str]:
    """The tree below a team with target, assigned, achieved, projected and shortfall per node."""
    async with uow:
        team = await load_team(uow, principal, team_id, write=False)
        if not await manages(uow, principal, team):
            raise Forbidden("only managers of the team (or above it) and admins see its roll-up")
        period = await uow.repo.get(Period, org=principal.org, id=period_id, what="period")
        node = await _node(uow, team, period, depth=0)
        return roll_up(node), team.currency


async def _node(uow: GoalsUnitOfWork, team: Team, period: Period, *, depth: int) -> RollupNode:
    plan = await uow.repo.plan_of(team.org_id, team.id, period.id)
    children = await uow.repo.child_teams(team.org_id, team.id) if depth < MAX_DEPTH else []
    nodes = [await _node(uow, c, period, depth=depth + 1) for c in children]
    achieved = projected = assigned = 0
    if plan is not None:
        achieved, projected, assigned = await team_figures(uow, team, plan)
    if nodes:
        assigned = sum(n.target_minor or 0 for n in nodes)
    return RollupNode(
        team_id=team.id,
        name=team.name,
        target_minor=plan.target_minor if plan else None,
        assigned_minor=assigned,
        achieved_minor=achieved,
        projected_minor=projected,
        children=nodes,
    )


async def team_figures(uow: GoalsUnitOfWork, team: Team, plan: Plan) -> tuple[int, int, int]:
    """A team's own reps in a plan: achieved, projected and assigned (sum of targets)."""
    achieved = projected = 0
    targets = await uow.repo.targets_of(team.org_id, plan.id)
    active = {m.id for m in await uow.repo.active_members(team.org_id, team.id)}
    mine = [t for t in targets if t.member_id in active]
    standings = await uow.repo.standings(team.org_id, plan.period_id, [t.member_id for t in mine])
    for t in mine:
        s = standings.get(t.member_id)
        achieved += s.achieved_minor if s else 0
        # Not reported yet: nothing sold, projected on target (as the rebalancing assumes).
        projected += s.projected_minor if s else t.amount_minor
    return achieved, projected, sum(t.amount_minor for t in targets)
