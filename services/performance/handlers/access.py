"""Who may read or manage a team's performance: its managers, and the managers of teams above it."""

from __future__ import annotations

import uuid

from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from shared.auth import Principal

#: Goals refuses hierarchies deeper than this; the bound only guards against bad data here.
MAX_DEPTH = 32


async def oversees(uow: PerformanceUnitOfWork, principal: Principal, team_id: uuid.UUID) -> bool:
    """Admin, a manager of the team, or a manager of a team above it in goals' tree."""
    if principal.manages(team_id):
        return True
    if "manager" not in principal.roles:
        return False
    team = await uow.repo.team(org_id=principal.org, team_id=team_id)
    depth = 0
    while team is not None and team.parent_team_id is not None and depth < MAX_DEPTH:
        if principal.manages(team.parent_team_id):
            return True
        team = await uow.repo.team(org_id=principal.org, team_id=team.parent_team_id)
        depth += 1
    return False


async def belongs_or_oversees(
    uow: PerformanceUnitOfWork, principal: Principal, team_id: uuid.UUID
) -> bool:
    """Anyone whose token lists the team, or who oversees it."""
    return principal.belongs_to(team_id) or await oversees(uow, principal, team_id)
