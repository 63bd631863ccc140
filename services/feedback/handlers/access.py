"""Who the caller is to a team: shared by every feedback use case."""

from __future__ import annotations

from uuid import UUID

from services.feedback.adapters.orm import Team
from services.feedback.adapters.unit_of_work import FeedbackUnitOfWork
from services.feedback.domain.dispute import Actor
from shared.auth import Principal
from shared.domain_errors import NotFound


def actor_of(principal: Principal) -> Actor:
    """The dispute domain's view of the caller: managers manage the teams their token lists."""
    managed = principal.teams if "manager" in principal.roles else frozenset()
    return Actor(
        member_id=principal.member_id,
        user_sub=principal.sub,
        is_admin=principal.is_admin,
        managed_team_ids=frozenset(managed),
    )


async def known_team(uow: FeedbackUnitOfWork, principal: Principal, team_id: UUID) -> Team:
    """Return the team of the caller's organisation, or 404."""
    team = await uow.directory.team(org_id=principal.org, team_id=team_id)
    if team is None:
        raise NotFound("team not found")
    return team


async def is_in_team(uow: FeedbackUnitOfWork, principal: Principal, team: Team) -> bool:
    """Tell whether the caller is an admin, listed on the team, its manager or a current member."""
    if principal.belongs_to(team.id) or principal.manages(team.id):
        return True
    me = principal.member_id
    if me is None:
        return False
    if team.manager_id == me:
        return True
    return me in await uow.directory.active_member_ids(org_id=principal.org, team_id=team.id)


async def visible_team(uow: FeedbackUnitOfWork, principal: Principal, team_id: UUID) -> Team:
    """Return a team the caller belongs to; any other team is a 404 so ids do not leak."""
    team = await known_team(uow, principal, team_id)
    if not await is_in_team(uow, principal, team):
        raise NotFound("team not found")
    return team


async def team_roster(uow: FeedbackUnitOfWork, team: Team) -> set[UUID]:
    """The team's current members and its manager: who may be a party, attendee or owner."""
    members = await uow.directory.active_member_ids(org_id=team.org_id, team_id=team.id)
    return members | {team.manager_id}


async def caller_team_ids(uow: FeedbackUnitOfWork, principal: Principal) -> set[UUID]:
    """Every team the caller belongs to, from the token and from the directory."""
    teams = set(principal.teams)
    if principal.member_id is not None:
        teams |= await uow.directory.teams_of_member(
            org_id=principal.org, member_id=principal.member_id
        )
    return teams
