"""Attainment and pace: team view, member view, leaderboard, thresholds, evaluation."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.performance.api.deps import NowDep, UowDep
from services.performance.api.schemas import (
    AttainmentRead,
    EvaluationRead,
    EvaluationRequest,
    LeaderboardEntry,
    LeaderboardRead,
    TeamAttainmentRead,
    ThresholdsBody,
)
from services.performance.handlers.attainment import (
    Evaluate,
    SetThresholds,
    evaluate_now,
    get_thresholds,
    leaderboard,
    member_attainment,
    set_thresholds,
    team_attainment,
)
from shared.auth import CurrentPrincipal, ManagerPrincipal
from shared.http import Cursor, Limit
from shared.problems import problem_responses

router = APIRouter(tags=["attainment"])


@router.get(
    "/v1/teams/{team_id}/periods/{period_id}/attainment",
    response_model=TeamAttainmentRead,
    responses=problem_responses(401, 403, 404),
)
async def get_team_attainment(
    team_id: uuid.UUID,
    period_id: uuid.UUID,
    principal: CurrentPrincipal,
    uow: UowDep,
    now: NowDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> TeamAttainmentRead:
    """Each member's target, achieved, percent, expected-to-date, projection, status, shortfall."""
    view, next_cursor = await team_attainment(
        team_id=team_id,
        period_id=period_id,
        uow=uow,
        principal=principal,
        now=now,
        limit=limit,
        cursor=cursor,
    )
    return TeamAttainmentRead.of(view, next_cursor=next_cursor)


@router.get(
    "/v1/members/{member_id}/attainment",
    response_model=list[AttainmentRead],
    responses=problem_responses(401, 403, 404),
)
async def get_member_attainment(
    member_id: uuid.UUID,
    principal: CurrentPrincipal,
    uow: UowDep,
    now: NowDep,
    period_id: uuid.UUID | None = None,
) -> list[AttainmentRead]:
    """A member's attainment in a period (or in every period with a target)."""
    rows = await member_attainment(
        member_id=member_id, period_id=period_id, uow=uow, principal=principal, now=now
    )
    return [AttainmentRead.of(r.standing, team_id=r.team_id, period_id=r.period_id) for r in rows]


@router.get(
    "/v1/teams/{team_id}/periods/{period_id}/leaderboard",
    response_model=LeaderboardRead,
    responses=problem_responses(401, 403, 404),
)
async def get_leaderboard(
    team_id: uuid.UUID, period_id: uuid.UUID, principal: CurrentPrincipal, uow: UowDep, now: NowDep
) -> LeaderboardRead:
    """The team ranked by percent of target, for everyone in the team."""
    view = await leaderboard(
        team_id=team_id, period_id=period_id, uow=uow, principal=principal, now=now
    )
    return LeaderboardRead(
        team_id=view.team_id,
        period_id=view.period_id,
        currency=view.currency,
        as_of=view.as_of,
        entries=[
            LeaderboardEntry(
                rank=rank,
                member_id=m.member_id,
                achieved=m.money(m.pace.achieved_minor),
                percent=m.pace.percent,
                status=m.pace.status.value,
            )
            for rank, m in enumerate(view.members, start=1)
        ],
    )


@router.get(
    "/v1/teams/{team_id}/thresholds",
    response_model=ThresholdsBody,
    responses=problem_responses(401, 403, 404),
)
async def get_team_thresholds(
    team_id: uuid.UUID, principal: CurrentPrincipal, uow: UowDep
) -> ThresholdsBody:
    """A team's pace thresholds."""
    return ThresholdsBody.of(await get_thresholds(team_id=team_id, uow=uow, principal=principal))


@router.put(
    "/v1/teams/{team_id}/thresholds",
    response_model=ThresholdsBody,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def set_team_thresholds(
    team_id: uuid.UUID, body: ThresholdsBody, principal: ManagerPrincipal, uow: UowDep
) -> ThresholdsBody:
    """Set a team's pace thresholds (ratios of projection to target) and hysteresis."""
    thresholds = await set_thresholds(
        SetThresholds(
            team_id=team_id,
            at_risk_below=body.at_risk_below,
            struggling_below=body.struggling_below,
            hysteresis=body.hysteresis,
            min_elapsed_share=body.min_elapsed_share,
        ),
        uow=uow,
        principal=principal,
    )
    return ThresholdsBody.of(thresholds)


@router.post(
    "/v1/teams/{team_id}/periods/{period_id}/evaluation",
    response_model=EvaluationRead,
    responses=problem_responses(401, 403, 404, 422),
)
async def evaluate_team_pace(
    team_id: uuid.UUID,
    period_id: uuid.UUID,
    principal: ManagerPrincipal,
    uow: UowDep,
    now: NowDep,
    body: EvaluationRequest | None = None,
) -> EvaluationRead:
    """Evaluate pace now (or as of an instant, admins only) and publish shortfalls."""
    result = await evaluate_now(
        Evaluate(team_id=team_id, period_id=period_id, as_of=body.as_of if body else None),
        uow=uow,
        principal=principal,
        now=now,
    )
    view = TeamAttainmentRead.of(result)
    return EvaluationRead(**view.model_dump(), shortfalls_detected=result.shortfalls)
