"""Individual targets: read, edit, history, acknowledgement."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.goals.api import change_schemas as cs
from services.goals.api import schemas
from services.goals.api.deps import UowDep
from services.goals.handlers import targets as handlers
from shared.auth import CurrentPrincipal, ManagerPrincipal
from shared.http import Cursor, IfMatch, Limit, Page, etag_of
from shared.problems import problem_responses

router = APIRouter(prefix="/v1/targets", tags=["targets"])
R = problem_responses(401, 404)


class TargetHistoryPage(BaseModel):
    """A page of a target's ledger, oldest first."""

    target_id: uuid.UUID
    currency: str
    items: list[schemas.TargetChangeRead]
    next_cursor: str | None = None


@router.get("/{target_id}", response_model=schemas.TargetRead, responses=R)
async def get_target(
    target_id: uuid.UUID, principal: CurrentPrincipal, uow: UowDep, response: Response
) -> schemas.TargetRead:
    """Read a target and how it was derived (reps: their own only)."""
    target = await handlers.get_target(target_id, uow=uow, principal=principal)
    response.headers["ETag"] = etag_of(target.version)
    return schemas.TargetRead.of(target)


@router.patch(
    "/{target_id}",
    response_model=schemas.TargetRead,
    responses={
        **problem_responses(401, 403, 404, 409, 412, 422),
        202: {
            "model": cs.ChangeRequestRead,
            "description": "Flagged `manager_incentive`: waits for a senior approver",
        },
    },
)
async def edit_target(
    target_id: uuid.UUID,
    body: schemas.TargetEdit,
    principal: ManagerPrincipal,
    uow: UowDep,
    response: Response,
    if_match: IfMatch = None,
) -> schemas.TargetRead | JSONResponse:
    """Set a target by hand; the others absorb the difference unless team_total_changes.

    A change of the team total that lifts the team across 100 % projected attainment is held
    (202, a pending change request) until an admin or a manager above the team approves it.
    """
    cmd = handlers.EditTarget(
        target_id=target_id,
        amount=body.amount,
        reason=body.reason,
        team_total_changes=body.team_total_changes,
        if_match=if_match,
    )
    result = await handlers.edit_target(cmd, uow=uow, principal=principal)
    if isinstance(result, handlers.HeldEdit):
        held = cs.ChangeRequestRead.of(result.request)
        return JSONResponse(held.model_dump(mode="json"), status_code=202)
    response.headers["ETag"] = etag_of(result.version)
    return schemas.TargetRead.of(result)


@router.get(
    "/{target_id}/changes-since-acknowledgement",
    response_model=cs.ChangesSinceAcknowledgement,
    responses=R,
)
async def get_changes_since_acknowledgement(
    target_id: uuid.UUID, principal: CurrentPrincipal, uow: UowDep
) -> cs.ChangesSinceAcknowledgement:
    """What changed the target since the rep last acknowledged it, and why (all, if never)."""
    target, rows = await handlers.changes_since_acknowledgement(
        target_id, uow=uow, principal=principal
    )
    read = schemas.TargetRead.of(target)
    return cs.ChangesSinceAcknowledgement(
        target_id=target.id,
        currency=target.currency,
        acknowledged_version=target.acknowledged_version,
        version=target.version,
        reacknowledgement_due=read.reacknowledgement_due,
        items=[schemas.TargetChangeRead.of(r, target.currency) for r in rows],
    )


@router.get("/{target_id}/history", response_model=TargetHistoryPage, responses=R)
async def get_target_history(
    target_id: uuid.UUID,
    principal: CurrentPrincipal,
    uow: UowDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> TargetHistoryPage:
    """The target's change ledger: old, new, delta, reason, actor or source event, time."""
    target, rows, nxt = await handlers.target_history(
        target_id, uow=uow, principal=principal, cursor=cursor, limit=limit
    )
    return TargetHistoryPage(
        target_id=target.id,
        currency=target.currency,
        items=[schemas.TargetChangeRead.of(r, target.currency) for r in rows],
        next_cursor=nxt,
    )


@router.post(
    "/{target_id}/acknowledgement",
    response_model=schemas.TargetRead,
    responses=problem_responses(401, 403, 404, 409),
)
async def acknowledge_target(
    target_id: uuid.UUID, principal: CurrentPrincipal, uow: UowDep
) -> schemas.TargetRead:
    """Acknowledge your own published target (repeating it changes nothing)."""
    return schemas.TargetRead.of(
        await handlers.acknowledge_target(
            handlers.AcknowledgeTarget(target_id=target_id), uow=uow, principal=principal
        )
    )


_ = Page
