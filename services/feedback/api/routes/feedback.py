"""Coaching feedback routes: private notes and the feed (check-ins and notices included)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from fastapi import APIRouter

from services.feedback.api.deps import UowDep
from services.feedback.api.schemas import FeedbackCreate, FeedbackRead
from services.feedback.handlers import feedback as handlers
from shared.auth import CurrentPrincipal
from shared.http import Cursor, Limit, Page
from shared.problems import problem_responses

router = APIRouter(prefix="/v1/feedback", tags=["feedback"])


@router.post(
    "",
    status_code=201,
    response_model=FeedbackRead,
    responses=problem_responses(403, 404, 422),
)
async def give_feedback(
    body: FeedbackCreate, principal: CurrentPrincipal, uow: UowDep
) -> FeedbackRead:
    """Write a private note to a rep of your team, or to your manager."""
    cmd = handlers.GiveFeedback(member_id=body.member_id, kind=body.kind, body=body.body)
    return FeedbackRead.from_row(await handlers.give_feedback(cmd, uow=uow, principal=principal))


@router.get("", response_model=Page[FeedbackRead], responses=problem_responses(422))
async def list_feedback(
    principal: CurrentPrincipal,
    uow: UowDep,
    member_id: UUID | None = None,
    kind: Literal["coaching", "recognition", "concern", "check_in", "notice"] | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[FeedbackRead]:
    """List the notes you take part in (admins: all), optionally involving one member."""
    rows, next_cursor = await handlers.list_feedback(
        uow=uow, principal=principal, member_id=member_id, kind=kind, cursor=cursor, limit=limit
    )
    return Page[FeedbackRead](
        items=[FeedbackRead.from_row(r) for r in rows], next_cursor=next_cursor
    )
