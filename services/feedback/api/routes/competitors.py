"""The competitor view: deals won and lost against each competitor, with the latest intel."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from services.feedback.api.competitor_schemas import CompetitorRead, CompetitorsRead
from services.feedback.api.deps import UowDep
from services.feedback.handlers.competitors import competitor_view
from shared.auth import CurrentPrincipal
from shared.problems import problem_responses

router = APIRouter(tags=["intel"])


@router.get(
    "/v1/teams/{team_id}/competitors",
    response_model=CompetitorsRead,
    responses=problem_responses(404, 422),
)
async def get_competitors(
    team_id: UUID, principal: CurrentPrincipal, uow: UowDep, period_id: UUID | None = None
) -> CompetitorsRead:
    """Per competitor: deals won and lost against them, amounts, top loss reasons, latest intel."""
    views = await competitor_view(team_id, period_id=period_id, uow=uow, principal=principal)
    return CompetitorsRead(
        team_id=team_id, period_id=period_id, competitors=[CompetitorRead.of(v) for v in views]
    )
