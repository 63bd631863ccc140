"""Market intelligence routes: share with the team, search by words and tag."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from services.feedback.api.deps import UowDep
from services.feedback.api.schemas import IntelCreate, IntelRead
from services.feedback.handlers import intel as handlers
from shared.auth import CurrentPrincipal
from shared.http import Cursor, Limit, Page
from shared.problems import problem_responses

router = APIRouter(prefix="/v1/intel", tags=["intel"])


@router.post(
    "",
    status_code=201,
    response_model=IntelRead,
    responses=problem_responses(404, 422),
)
async def create_intel(body: IntelCreate, principal: CurrentPrincipal, uow: UowDep) -> IntelRead:
    """Share a piece of market intelligence with your team."""
    cmd = handlers.ShareIntel(
        team_id=body.team_id,
        title=body.title,
        body=body.body,
        kind=body.kind,
        tags=body.tags,
        competitor=body.competitor,
        sale_ids=body.sale_ids,
    )
    return IntelRead.from_row(await handlers.share_intel(cmd, uow=uow, principal=principal))


@router.get("", response_model=Page[IntelRead], responses=problem_responses(404, 422))
async def search_intel(
    principal: CurrentPrincipal,
    uow: UowDep,
    team_id: UUID | None = None,
    q: Annotated[str | None, Query(max_length=500, description="Words from title or body")] = None,
    tag: Annotated[str | None, Query(max_length=50, description="One tag")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[IntelRead]:
    """Search your teams' intel by words (full text) and tag."""
    rows, next_cursor = await handlers.search_intel(
        uow=uow, principal=principal, team_id=team_id, q=q, tag=tag, cursor=cursor, limit=limit
    )
    return Page[IntelRead](items=[IntelRead.from_row(r) for r in rows], next_cursor=next_cursor)
