"""Governed target change requests, the team's change policy, and the adjustment profile."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from services.goals.api import change_schemas as cs
from services.goals.api.deps import UowDep
from services.goals.handlers import change_requests as handlers
from services.goals.handlers.guard import adjustment_profile_of
from shared.auth import CurrentPrincipal, ManagerPrincipal
from shared.http import Cursor, IfMatch, Limit, Page, etag_of
from shared.problems import problem_responses

router = APIRouter(prefix="/v1", tags=["change-requests"])
R = problem_responses(401, 403, 404, 422)
D = problem_responses(401, 403, 404, 409, 422)


@router.put(
    "/teams/{team_id}/change-policy",
    response_model=cs.ChangePolicyRead,
    responses=problem_responses(401, 403, 404, 422, 409, 412),
)
async def put_change_policy(
    team_id: uuid.UUID,
    body: cs.ChangePolicyWrite,
    principal: ManagerPrincipal,
    uow: UowDep,
    response: Response,
    if_match: IfMatch = None,
) -> cs.ChangePolicyRead:
    """Set the team's limits: changes per rep and period, notice, the second-approver threshold."""
    cmd = handlers.SetChangePolicy(
        team_id=team_id,
        max_changes_per_rep_per_period=body.max_changes_per_rep_per_period,
        notice_days=body.notice_days,
        second_approver_above_pct=body.second_approver_above_pct,
        if_match=if_match,
    )
    row = await handlers.set_change_policy(cmd, uow=uow, principal=principal)
    response.headers["ETag"] = etag_of(row.version)
    return cs.ChangePolicyRead.of(row)


@router.get("/teams/{team_id}/change-policy", response_model=cs.ChangePolicyRead, responses=R)
async def get_change_policy(
    team_id: uuid.UUID, principal: CurrentPrincipal, uow: UowDep, response: Response
) -> cs.ChangePolicyRead:
    """Read the team's change policy (defaults when never set)."""
    row = await handlers.get_change_policy(team_id, uow=uow, principal=principal)
    response.headers["ETag"] = etag_of(row.version)
    return cs.ChangePolicyRead.of(row)


@router.post(
    "/targets/{target_id}/change-requests",
    response_model=cs.ChangeRequestRead,
    status_code=201,
    responses=D,
)
async def request_change(
    target_id: uuid.UUID, body: cs.ChangeRequestCreate, principal: CurrentPrincipal, uow: UowDep
) -> cs.ChangeRequestRead:
    """Ask for a new target amount: the rep (own target) or a manager; 409 beyond the policy."""
    cmd = handlers.RequestChange(
        target_id=target_id, amount=body.amount, reason=body.reason, evidence=body.evidence
    )
    return cs.ChangeRequestRead.of(await handlers.request_change(cmd, uow=uow, principal=principal))


@router.get(
    "/teams/{team_id}/change-requests", response_model=Page[cs.ChangeRequestRead], responses=R
)
async def list_change_requests(
    team_id: uuid.UUID,
    principal: CurrentPrincipal,
    uow: UowDep,
    state: cs.ChangeState | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[cs.ChangeRequestRead]:
    """The team's change requests, oldest first (a rep sees those about them)."""
    rows, nxt = await handlers.list_change_requests(
        team_id, state=state, uow=uow, principal=principal, cursor=cursor, limit=limit
    )
    return Page[cs.ChangeRequestRead](
        items=[cs.ChangeRequestRead.of(r) for r in rows], next_cursor=nxt
    )


@router.get(
    "/change-requests/{change_request_id}", response_model=cs.ChangeRequestRead, responses=R
)
async def get_change_request(
    change_request_id: uuid.UUID, principal: CurrentPrincipal, uow: UowDep
) -> cs.ChangeRequestRead:
    """Read one change request."""
    return cs.ChangeRequestRead.of(
        await handlers.get_change_request(change_request_id, uow=uow, principal=principal)
    )


@router.post(
    "/change-requests/{change_request_id}/approval",
    response_model=cs.ChangeRequestRead,
    responses=D,
)
async def approve_change_request(
    change_request_id: uuid.UUID,
    principal: ManagerPrincipal,
    uow: UowDep,
    body: cs.ChangeDecision | None = None,
) -> cs.ChangeRequestRead:
    """Approve; with every approval it needs the target changes (409 if it changed since)."""
    cmd = handlers.DecideChange(
        change_request_id=change_request_id, rationale=body.rationale if body else None
    )
    return cs.ChangeRequestRead.of(await handlers.approve_change(cmd, uow=uow, principal=principal))


@router.post(
    "/change-requests/{change_request_id}/rejection",
    response_model=cs.ChangeRequestRead,
    responses=D,
)
async def reject_change_request(
    change_request_id: uuid.UUID, body: cs.ChangeDecision, principal: ManagerPrincipal, uow: UowDep
) -> cs.ChangeRequestRead:
    """Refuse a change request; a rationale is required (422 without one)."""
    cmd = handlers.DecideChange(change_request_id=change_request_id, rationale=body.rationale)
    return cs.ChangeRequestRead.of(await handlers.reject_change(cmd, uow=uow, principal=principal))


@router.post(
    "/change-requests/{change_request_id}/withdrawal",
    response_model=cs.ChangeRequestRead,
    responses=D,
)
async def withdraw_change_request(
    change_request_id: uuid.UUID, principal: CurrentPrincipal, uow: UowDep
) -> cs.ChangeRequestRead:
    """The requester takes back a pending request."""
    return cs.ChangeRequestRead.of(
        await handlers.withdraw_change(change_request_id, uow=uow, principal=principal)
    )


@router.post(
    "/change-requests/{change_request_id}/dispute",
    response_model=cs.DisputeOpened,
    status_code=202,
    responses=D,
)
async def dispute_change_request(
    change_request_id: uuid.UUID, principal: CurrentPrincipal, uow: UowDep
) -> cs.DisputeOpened:
    """The rep disputes a refused request; feedback opens the `target` dispute it names."""
    row, dispute_id = await handlers.dispute_change(change_request_id, uow=uow, principal=principal)
    return cs.DisputeOpened(change_request=cs.ChangeRequestRead.of(row), dispute_id=dispute_id)


@router.get(
    "/teams/{team_id}/adjustment-profile", response_model=cs.AdjustmentProfileRead, responses=R
)
async def get_adjustment_profile(
    team_id: uuid.UUID, period_id: uuid.UUID, principal: ManagerPrincipal, uow: UowDep
) -> cs.AdjustmentProfileRead:
    """Who got relief or uplift by people's decisions, how concentrated, and what was flagged."""
    data = await adjustment_profile_of(team_id, period_id, uow=uow, principal=principal)
    return cs.AdjustmentProfileRead.of(
        team_id=team_id,
        period_id=period_id,
        currency=data.currency,
        profile=data.profile,
        flagged_rows=data.flagged_rows,
        flagged_requests=data.flagged_requests,
    )
