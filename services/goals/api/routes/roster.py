"""Teams and members."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from services.goals.api import schemas
from services.goals.api.deps import Cursor, IfMatch, Limit, UowDep
from services.goals.handlers import commands
from shared.auth import AdminPrincipal, CurrentPrincipal, ManagerPrincipal
from shared.http import Page, etag_of
from shared.problems import PROBLEM_RESPONSES as P

router = APIRouter(prefix="/v1", tags=["roster"])
R = {k: P[k] for k in (401, 403, 404, 422)}
W = {k: P[k] for k in (401, 403, 404, 412, 422)}


@router.post("/teams", status_code=201, response_model=schemas.TeamRead, responses=R)
async def create_team(
    body: schemas.TeamCreate, principal: AdminPrincipal, uow: UowDep, response: Response
) -> schemas.TeamRead:
    """Create a team (admin)."""
    team = await commands.create_team(body, uow=uow, principal=principal)
    response.headers["Location"] = f"/v1/teams/{team.id}"
    response.headers["ETag"] = etag_of(team.version)
    return schemas.TeamRead.model_validate(team)


@router.get("/teams", response_model=Page[schemas.TeamRead], responses=R)
async def list_teams(
    principal: CurrentPrincipal, uow: UowDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[schemas.TeamRead]:
    """List the teams you can see (all of the org for admins)."""
    rows, nxt = await commands.list_teams(uow=uow, principal=principal, cursor=cursor, limit=limit)
    return Page[schemas.TeamRead](
        items=[schemas.TeamRead.model_validate(r) for r in rows], next_cursor=nxt
    )


@router.get("/teams/{team_id}", response_model=schemas.TeamRead, responses=R)
async def get_team(
    team_id: uuid.UUID, principal: CurrentPrincipal, uow: UowDep, response: Response
) -> schemas.TeamRead:
    """Read a team."""
    team = await commands.get_team(team_id, uow=uow, principal=principal)
    response.headers["ETag"] = etag_of(team.version)
    return schemas.TeamRead.model_validate(team)


@router.patch("/teams/{team_id}", response_model=schemas.TeamRead, responses=W)
async def update_team(
    team_id: uuid.UUID,
    body: schemas.TeamUpdate,
    principal: ManagerPrincipal,
    uow: UowDep,
    response: Response,
    if_match: IfMatch = None,
) -> schemas.TeamRead:
    """Rename a team or (admin) change its manager."""
    team = await commands.update_team(
        team_id, body, if_match=if_match, uow=uow, principal=principal
    )
    response.headers["ETag"] = etag_of(team.version)
    return schemas.TeamRead.model_validate(team)


@router.post(
    "/teams/{team_id}/members", status_code=201, response_model=schemas.MemberRead, responses=R
)
async def add_member(
    team_id: uuid.UUID,
    body: schemas.MemberCreate,
    principal: ManagerPrincipal,
    uow: UowDep,
    response: Response,
) -> schemas.MemberRead:
    """Add a member to a team."""
    member = await commands.add_member(team_id, body, uow=uow, principal=principal)
    response.headers["Location"] = f"/v1/members/{member.id}"
    response.headers["ETag"] = etag_of(member.version)
    return schemas.MemberRead.of(member)


@router.get("/teams/{team_id}/members", response_model=Page[schemas.MemberRead], responses=R)
async def list_members(
    team_id: uuid.UUID,
    principal: CurrentPrincipal,
    uow: UowDep,
    include_left: bool = False,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[schemas.MemberRead]:
    """List a team's members (those who left only with include_left)."""
    rows, nxt = await commands.list_members(
        team_id, include_left=include_left, uow=uow, principal=principal, cursor=cursor, limit=limit
    )
    return Page[schemas.MemberRead](items=[schemas.MemberRead.of(r) for r in rows], next_cursor=nxt)


@router.get("/members/{member_id}", response_model=schemas.MemberRead, responses=R)
async def get_member(
    member_id: uuid.UUID, principal: CurrentPrincipal, uow: UowDep, response: Response
) -> schemas.MemberRead:
    """Read a member."""
    member = await commands.get_member(member_id, uow=uow, principal=principal)
    response.headers["ETag"] = etag_of(member.version)
    return schemas.MemberRead.of(member)


@router.patch(
    "/members/{member_id}", response_model=schemas.MemberRead, responses={**W, 409: P[409]}
)
async def update_member(
    member_id: uuid.UUID,
    body: schemas.MemberUpdate,
    principal: ManagerPrincipal,
    uow: UowDep,
    response: Response,
    if_match: IfMatch = None,
) -> schemas.MemberRead:
    """Change a member's details (e-mail, CRM ids, capacity, ramp)."""
    member = await commands.update_member(
        member_id, body, if_match=if_match, uow=uow, principal=principal
    )
    response.headers["ETag"] = etag_of(member.version)
    return schemas.MemberRead.of(member)


@router.delete(
    "/members/{member_id}", response_model=schemas.Departure, responses={**W, 409: P[409]}
)
async def remove_member(
    member_id: uuid.UUID, principal: ManagerPrincipal, uow: UowDep, if_match: IfMatch = None
) -> schemas.Departure:
    """The member leaves the team; their open targets go to the others, the team total is kept."""
    result = await commands.remove_member(
        member_id, if_match=if_match, uow=uow, principal=principal
    )
    return schemas.Departure(
        member=schemas.MemberRead.of(result.member), changed_targets=result.changed_targets
    )


@router.post(
    "/members/{member_id}/results",
    status_code=201,
    response_model=schemas.ResultRead,
    responses=R,
)
async def record_result(
    member_id: uuid.UUID, body: schemas.ResultCreate, principal: ManagerPrincipal, uow: UowDep
) -> schemas.ResultRead:
    """Import a member's result of a past period (used by historical allocation)."""
    row = await commands.record_result(member_id, body, uow=uow, principal=principal)
    return schemas.ResultRead.of(row)


@router.get("/members/{member_id}/results", response_model=Page[schemas.ResultRead], responses=R)
async def list_results(
    member_id: uuid.UUID,
    principal: CurrentPrincipal,
    uow: UowDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[schemas.ResultRead]:
    """List a member's past results."""
    rows, nxt = await commands.list_results(
        member_id, uow=uow, principal=principal, cursor=cursor, limit=limit
    )
    return Page[schemas.ResultRead](items=[schemas.ResultRead.of(r) for r in rows], next_cursor=nxt)
