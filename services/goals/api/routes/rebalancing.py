"""Rebalance policies and rebalances."""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Response

from services.goals.api import schemas
from services.goals.api.deps import UowDep
from services.goals.handlers import offers as offer_handlers
from services.goals.handlers import rebalancing as handlers
from shared.auth import CurrentPrincipal, ManagerPrincipal
from shared.http import Cursor, IfMatch, Limit, Page, etag_of
from shared.problems import problem_responses

router = APIRouter(prefix="/v1", tags=["rebalancing"])
R = problem_responses(401, 403, 404, 422)
D = problem_responses(401, 403, 404, 409)


@router.put(
    "/teams/{team_id}/rebalance-policy",
    response_model=schemas.PolicyRead,
    responses={**R, **problem_responses(409, 412)},
)
async def put_rebalance_policy(
    team_id: uuid.UUID,
    body: schemas.PolicyWrite,
    principal: ManagerPrincipal,
    uow: UowDep,
    response: Response,
    if_match: IfMatch = None,
) -> schemas.PolicyRead:
    """Set how the team answers shortfalls: auto, propose or off, with cap, cooldown and freeze."""
    cmd = handlers.SetRebalancePolicy(
        team_id=team_id,
        mode=body.mode,
        max_increase_pct=body.max_increase_pct,
        cooldown_hours=body.cooldown_hours,
        freeze_days_before_end=body.freeze_days_before_end,
        max_decrease_pct=body.max_decrease_pct,
        give_back=body.give_back,
        require_checkin_before_rebalance=body.require_checkin_before_rebalance,
        offer_hours=body.offer_hours,
        if_match=if_match,
    )
    row = await handlers.set_policy(cmd, uow=uow, principal=principal)
    response.headers["ETag"] = etag_of(row.version)
    return schemas.PolicyRead.of(row)


@router.get("/teams/{team_id}/rebalance-policy", response_model=schemas.PolicyRead, responses=R)
async def get_rebalance_policy(
    team_id: uuid.UUID, principal: CurrentPrincipal, uow: UowDep, response: Response
) -> schemas.PolicyRead:
    """Read the team's rebalance policy (defaults when never set)."""
    row = await handlers.get_policy(team_id, uow=uow, principal=principal)
    response.headers["ETag"] = etag_of(row.version)
    return schemas.PolicyRead.of(row)


@router.get("/teams/{team_id}/rebalances", response_model=Page[schemas.RebalanceRead], responses=R)
async def list_rebalances(
    team_id: uuid.UUID,
    principal: ManagerPrincipal,
    uow: UowDep,
    status: Literal[
        "applied", "proposed", "offered", "approved", "rejected", "superseded", "skipped"
    ]
    | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[schemas.RebalanceRead]:
    """List the team's rebalances, skipped ones with their reason."""
    rows, nxt, offers = await handlers.list_rebalances(
        team_id, status=status, uow=uow, principal=principal, cursor=cursor, limit=limit
    )
    return Page[schemas.RebalanceRead](
        items=[schemas.RebalanceRead.of(r, offers.get(r.id, ())) for r in rows], next_cursor=nxt
    )


@router.get("/rebalances/{rebalance_id}", response_model=schemas.RebalanceRead, responses=R)
async def get_rebalance(
    rebalance_id: uuid.UUID, principal: CurrentPrincipal, uow: UowDep
) -> schemas.RebalanceRead:
    """Read one rebalance with its transfers and offers (a rep offered uplift sees their own)."""
    row, offers = await handlers.get_rebalance(rebalance_id, uow=uow, principal=principal)
    return schemas.RebalanceRead.of(row, offers)


@router.post(
    "/rebalances/{rebalance_id}/offers/{member_id}/acceptance",
    response_model=schemas.RebalanceRead,
    responses={**D, **problem_responses(422)},
)
async def accept_offer(
    rebalance_id: uuid.UUID,
    member_id: uuid.UUID,
    body: schemas.OfferAcceptance,
    principal: CurrentPrincipal,
    uow: UowDep,
) -> schemas.RebalanceRead:
    """The rep takes all or part of their offer (0 declines), once, until it expires.

    Only the rep the offer was made to may answer it. The last answer settles the round.
    """
    row, offers = await offer_handlers.accept_offer(
        offer_handlers.AcceptOffer(
            rebalance_id=rebalance_id, member_id=member_id, amount=body.amount
        ),
        uow=uow,
        principal=principal,
    )
    return schemas.RebalanceRead.of(row, [o for o in offers if o.member_id == member_id])


@router.post(
    "/rebalances/{rebalance_id}/approval", response_model=schemas.RebalanceRead, responses=D
)
async def approve_rebalance(
    rebalance_id: uuid.UUID, principal: ManagerPrincipal, uow: UowDep
) -> schemas.RebalanceRead:
    """Apply a proposed rebalance (409 when a target it touches changed since)."""
    return schemas.RebalanceRead.of(
        await handlers.approve_rebalance(
            handlers.ApproveRebalance(rebalance_id=rebalance_id), uow=uow, principal=principal
        )
    )


@router.post(
    "/rebalances/{rebalance_id}/rejection", response_model=schemas.RebalanceRead, responses=D
)
async def reject_rebalance(
    rebalance_id: uuid.UUID, principal: ManagerPrincipal, uow: UowDep
) -> schemas.RebalanceRead:
    """Reject a proposed rebalance; nothing moves."""
    return schemas.RebalanceRead.of(
        await handlers.reject_rebalance(
            handlers.RejectRebalance(rebalance_id=rebalance_id), uow=uow, principal=principal
        )
    )


@router.get(
    "/members/{member_id}/periods/{period_id}/transfer-statement",
    response_model=schemas.TransferStatementRead,
    responses=R,
)
async def get_transfer_statement(
    member_id: uuid.UUID, period_id: uuid.UUID, principal: CurrentPrincipal, uow: UowDep
) -> schemas.TransferStatementRead:
    """Every amount the rep gave or received by rebalancing in the period, netted, with sources."""
    currency, lines = await handlers.transfer_statement(
        member_id, period_id, uow=uow, principal=principal
    )
    return schemas.TransferStatementRead.of(member_id, period_id, currency, lines)
