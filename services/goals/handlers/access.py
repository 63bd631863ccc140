"""Who may read or change a team and its members; loading rows the caller may see."""

from __future__ import annotations

import uuid

from services.goals.adapters.orm import Member, Team
from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from services.goals.domain.hierarchy import MAX_DEPTH
from shared.auth import Principal
from shared.domain_errors import Forbidden


def can_manage(principal: Principal, team: Team) -> bool:
    """Admin, or the team's manager (by token teams or as the team's recorded manager)."""
    if principal.manages(team.id):
        return True
    return "manager" in principal.roles and principal.member_id == team.manager_id


def can_read(principal: Principal, team: Team) -> bool:
    """Managers of the team and anyone whose token lists it."""
    return can_manage(principal, team) or principal.belongs_to(team.id)


async def manages(uow: GoalsUnitOfWork, principal: Principal, team: Team) -> bool:
    """can_manage, or the manager of a team above this one (a region's manager)."""
    if can_manage(principal, team):
        return True
    if "manager" not in principal.roles:
        return False
    parent_id, depth = team.parent_team_id, 0
    # Cycles are refused when parents are set; the depth bound only guards against bad data.
    while parent_id is not None and depth < MAX_DEPTH:
        parent = await uow.repo.find(Team, org_id=team.org_id, id=parent_id)
        if parent is None:
            return False
        if can_manage(principal, parent):
            return True
        parent_id, depth = parent.parent_team_id, depth + 1
    return False


async def load_team(
    uow: GoalsUnitOfWork, principal: Principal, team_id: uuid.UUID, *, write: bool
) -> Team:
    """A team of the caller's org the caller may read (or write), else 404 / 403."""
    team = await uow.repo.get(Team, org_id=principal.org, id=team_id, what="team")
    if write and not await manages(uow, principal, team):
        raise Forbidden("only an admin or the team's manager may change this team")
    if not write and not (principal.belongs_to(team.id) or await manages(uow, principal, team)):
        raise Forbidden("you are not a member of this team")
    return team


async def load_member(
    uow: GoalsUnitOfWork, principal: Principal, member_id: uuid.UUID, *, write: bool
) -> tuple[Member, Team]:
    """A member and their team, if the caller is that member (reading) or may read/write the team."""
    member = await uow.repo.get(Member, org_id=principal.org, id=member_id, what="member")
    team = await uow.repo.get(Team, org_id=principal.org, id=member.team_id, what="team")
    if principal.member_id == member.id and not write:
        return member, team
    if write and not await manages(uow, principal, team):
        raise Forbidden("only an admin or the team's manager may change this member")
    if not write and not (principal.belongs_to(team.id) or await manages(uow, principal, team)):
        raise Forbidden("you are not a member of this team")
    return member, team
