"""Teams and members."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from services.goals.api import schemas
from services.goals.api.deps import UowDep
from services.goals.handlers import roster
from shared.auth import AdminPrincipal, CurrentPrincipal, ManagerPrincipal
from shared.http import Cursor, IfMatch, Limit, Page, etag_of
from shared.problems import problem_responses

router = APIRouter(prefix="/v1", tags=["roster"])
R = problem_responses(401, 403, 404, 422)
W = problem_responses(401, 403, 404, 409, 412, 422)


@router.post("/teams", status_code=201, response_model=schemas.TeamRead, responses=R)
async def create_team(
    body: schemas.TeamCreate, principal: AdminPrincipal, uow: UowDep, response: Response
) -> schemas.TeamRead:
    """Create a team (admin)."""
    cmd = roster.CreateTeam(
        name=body.name,
        currency=body.currency,
        manager_id=body.manager_id,
        parent_team_id=body.parent_team_id,
    )
    team = await roster.create_team(cmd, uow=uow, principal=principal)
    response.headers["Location"] = f"/v1/teams/{team.id}"
    response.headers["ETag"] = etag_of(team.version)
    return schemas.TeamRead.model_validate(team)


@router.get("/teams", response_model=Page[schemas.TeamRead], responses=R)
async def list_teams(
    principal: CurrentPrincipal, uow: UowDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[schemas.TeamRead]:
    """List the teams you can see (all of the org for admins)."""
    rows, nxt = await roster.list_teams(uow=uow, principal=principal, cursor=cursor, limit=limit)
    return Page[schemas.TeamRead](
        items=[schemas.TeamRead.model_validate(r) for r in rows], next_cursor=nxt
    )


@router.get("/teams/{team_id}", response_model=schemas.TeamRead, responses=R)
async def get_team(
    team_id: uuid.UUID, principal: CurrentPrincipal, uow: UowDep, response: Response
) -> schemas.TeamRead:
    """Read a team."""
    team = await roster.get_team(team_id, uow=uow, principal=principal)
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
    cmd = roster.UpdateTeam(
        team_id=team_id,
        name=body.name,
        manager_id=body.manager_id,
        parent_team_id=(
            body.parent_team_id if "parent_team_id" in body.model_fields_set else roster.KEEP
        ),
        if_match=if_match,
    )
    team = await roster.update_team(cmd, uow=uow, principal=principal)
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
    cmd = roster.AddMember(
        team_id=team_id,
        name=body.name,
        email=body.email,
        capacity=body.capacity,
        ramp=body.ramp,
        starts_on=body.starts_on,
        ramp_schedule=body.ramp_schedule,
        crm_ids=body.crm_ids.model_dump(),
    )
    member = await roster.add_member(cmd, uow=uow, principal=principal)
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
    rows, nxt = await roster.list_members(
        team_id, include_left=include_left, uow=uow, principal=principal, cursor=cursor, limit=limit
    )
    return Page[schemas.MemberRead](items=[schemas.MemberRead.of(r) for r in rows], next_cursor=nxt)


@router.get("/members/{member_id}", response_model=schemas.MemberRead, responses=R)
async def get_member(
    member_id: uuid.UUID, principal: CurrentPrincipal, uow: UowDep, response: Response
) -> schemas.MemberRead:
    """Read a member."""
    member = await roster.get_member(member_id, uow=uow, principal=principal)
    response.headers["ETag"] = etag_of(member.version)
    return schemas.MemberRead.of(member)


@router.patch(
    "/members/{member_id}",
    response_model=schemas.MemberRead,
    responses=W,
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
    cmd = roster.UpdateMember(
        member_id=member_id,
        name=body.name,
        email=body.email,
        capacity=body.capacity,
        ramp=body.ramp,
        starts_on=body.starts_on if "starts_on" in body.model_fields_set else roster.KEEP,
        ramp_schedule=body.ramp_schedule,
        # Only the CRM ids sent change; an id sent as null clears it.
        crm_ids=body.crm_ids.model_dump(exclude_unset=True) if body.crm_ids else {},
        if_match=if_match,
    )
    member = await roster.update_member(cmd, uow=uow, principal=principal)
    response.headers["ETag"] = etag_of(member.version)
    return schemas.MemberRead.of(member)


@router.delete(
    "/members/{member_id}",
    response_model=schemas.Departure,
    responses=W,
)
async def remove_member(
    member_id: uuid.UUID, principal: ManagerPrincipal, uow: UowDep, if_match: IfMatch = None
) -> schemas.Departure:
    """The member leaves the team; their open targets go to the others, the team total is kept."""
    cmd = roster.RemoveMember(member_id=member_id, if_match=if_match)
    result = await roster.remove_member(cmd, uow=uow, principal=principal)
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
    cmd = roster.RecordResult(
        member_id=member_id,
        period_name=body.period_name,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        achieved=body.achieved,
    )
    row = await roster.record_result(cmd, uow=uow, principal=principal)
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
    rows, nxt = await roster.list_results(
        member_id, uow=uow, principal=principal, cursor=cursor, limit=limit
    )
    return Page[schemas.ResultRead](items=[schemas.ResultRead.of(r) for r in rows], next_cursor=nxt)
