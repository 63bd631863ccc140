"""Absences and relief, and late joiners: targets that follow who is actually there."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Response

from services.goals.api import availability_schemas as schemas
from services.goals.api.deps import UowDep
from services.goals.api.schemas import TargetRead
from services.goals.domain.allocation import format_exact
from services.goals.handlers import relief as handlers
from services.goals.handlers import schedule as schedule_handlers
from shared.auth import CurrentPrincipal, ManagerPrincipal
from shared.http import Cursor, IfMatch, Limit, Page, etag_of
from shared.money import from_minor
from shared.problems import problem_responses

router = APIRouter(prefix="/v1", tags=["availability"])
R = problem_responses(401, 403, 404, 422)
W = problem_responses(401, 403, 404, 409, 422)


@router.post(
    "/members/{member_id}/absences",
    response_model=schemas.AbsenceRead,
    status_code=201,
    responses=W,
)
async def record_absence(
    member_id: uuid.UUID,
    body: schemas.AbsenceCreate,
    principal: ManagerPrincipal,
    uow: UowDep,
    response: Response,
) -> schemas.AbsenceRead:
    """Record an absence; one of at least min_days working days relieves the rep's open targets.

    A relief that would lift the manager's team across 100 % projected attainment is held as a
    pending change request (origin `relief`, in `held_reliefs`) until a senior approver approves.
    """
    cmd = handlers.RecordAbsence(
        member_id=member_id,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        kind=body.kind,
        note=body.note,
    )
    absence, currency, held = await handlers.record_absence(cmd, uow=uow, principal=principal)
    response.headers["Location"] = f"/v1/absences/{absence.id}"
    return schemas.AbsenceRead.of(absence, currency, held)


@router.get(
    "/members/{member_id}/absences",
    response_model=Page[schemas.AbsenceRead],
    responses=R,
)
async def list_absences(
    member_id: uuid.UUID,
    principal: CurrentPrincipal,
    uow: UowDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[schemas.AbsenceRead]:
    """List a member's absences, earliest first, with what each relieved."""
    rows, nxt, currency, held = await handlers.list_absences(
        member_id, uow=uow, principal=principal, cursor=cursor, limit=limit
    )
    return Page[schemas.AbsenceRead](
        items=[schemas.AbsenceRead.of(r, currency, held.get(r.id, ())) for r in rows],
        next_cursor=nxt,
    )


@router.delete("/absences/{absence_id}", status_code=204, responses=W)
async def cancel_absence(
    absence_id: uuid.UUID, principal: ManagerPrincipal, uow: UowDep
) -> Response:
    """Cancel an absence before it starts; its relief is undone through the ledger."""
    await handlers.cancel_absence(absence_id, uow=uow, principal=principal)
    return Response(status_code=204)


@router.put(
    "/teams/{team_id}/relief-policy",
    response_model=schemas.ReliefPolicyRead,
    responses={**R, **problem_responses(412)},
)
async def put_relief_policy(
    team_id: uuid.UUID,
    body: schemas.ReliefPolicyWrite,
    principal: ManagerPrincipal,
    uow: UowDep,
    response: Response,
    if_match: IfMatch = None,
) -> schemas.ReliefPolicyRead:
    """Set the shortest absence that relieves (working days) and who absorbs the relief."""
    cmd = handlers.PutReliefPolicy(
        team_id=team_id, min_days=body.min_days, absorb=body.absorb, if_match=if_match
    )
    row = await handlers.put_relief_policy(cmd, uow=uow, principal=principal)
    response.headers["ETag"] = etag_of(row.version)
    return schemas.ReliefPolicyRead.model_validate(row)


@router.get("/teams/{team_id}/relief-policy", response_model=schemas.ReliefPolicyRead, responses=R)
async def get_relief_policy(
    team_id: uuid.UUID, principal: CurrentPrincipal, uow: UowDep, response: Response
) -> schemas.ReliefPolicyRead:
    """Read the team's relief policy (defaults when never set)."""
    row = await handlers.get_relief_policy(team_id, uow=uow, principal=principal)
    response.headers["ETag"] = etag_of(row.version)
    return schemas.ReliefPolicyRead.model_validate(row)


@router.post(
    "/teams/{team_id}/plans/{period_id}/joiners",
    response_model=schemas.JoinerRead,
    status_code=201,
    responses=W,
)
async def add_joiner(
    team_id: uuid.UUID,
    period_id: uuid.UUID,
    body: schemas.JoinerCreate,
    principal: ManagerPrincipal,
    uow: UowDep,
) -> schemas.JoinerRead:
    """Give a member who joined after publishing a target prorated from starts_on, ramped."""
    cmd = handlers.AddJoiner(
        team_id=team_id, period_id=period_id, member_id=body.member_id, fund_from=body.fund_from
    )
    result = await handlers.add_joiner(cmd, uow=uow, principal=principal)
    return schemas.JoinerRead.of(result.plan, result.target, result.changed_targets)


@router.post(
    "/teams/{team_id}/plans/{period_id}/unassigned-assignments",
    response_model=schemas.UnassignedRead,
    status_code=201,
    responses=W,
)
async def assign_unassigned(
    team_id: uuid.UUID,
    period_id: uuid.UUID,
    body: schemas.UnassignedAssignment,
    principal: ManagerPrincipal,
    uow: UowDep,
) -> schemas.UnassignedRead:
    """Hand part of the plan's unassigned line (pooled relief) to a rep; the total stays."""
    cmd = handlers.AssignUnassigned(
        team_id=team_id, period_id=period_id, member_id=body.member_id, amount=body.amount
    )
    plan, target = await handlers.assign_unassigned(cmd, uow=uow, principal=principal)
    return schemas.UnassignedRead(
        target=TargetRead.of(target),
        unassigned=from_minor(plan.unassigned_minor, plan.currency),
    )


@router.get(
    "/targets/{target_id}/schedule",
    response_model=schemas.ScheduleRead,
    responses=R,
)
async def get_target_schedule(
    target_id: uuid.UUID,
    principal: CurrentPrincipal,
    uow: UowDep,
    grain: Literal["month", "week"] = "month",
) -> schemas.ScheduleRead:
    """The target cut into months or ISO weeks by seasonality, absences and ramp, exactly."""
    target, slices = await schedule_handlers.target_schedule(
        target_id, grain, uow=uow, principal=principal
    )
    return schemas.ScheduleRead(
        target_id=target.id,
        grain=grain,
        amount=from_minor(target.amount_minor, target.currency),
        currency=target.currency,
        slices=[
            schemas.SliceRead(
                starts_on=s.starts_on,
                ends_on=s.ends_on,
                weight=format_exact(s.weight),
                amount=from_minor(s.amount_minor, target.currency),
            )
            for s in slices
        ],
    )
