"""Coaching routes: 1:1s with an agenda built from data, notes, action items, check-in answers."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from services.feedback.api.coaching_schemas import (
    ActionItemRead,
    ActionItemStatus,
    ActionItemUpdate,
    AgendaRead,
    CheckInAnswer,
    CheckInRead,
    EpisodeRead,
    OneOnOneCreate,
    OneOnOneNoteCreate,
    OneOnOneNoteCreated,
    OneOnOneNoteRead,
    OneOnOneRead,
    OneOnOneUpdate,
)
from services.feedback.api.deps import NowDep, UowDep
from services.feedback.handlers import coaching as handlers
from shared.auth import CurrentPrincipal
from shared.http import Cursor, Limit, Page
from shared.problems import problem_responses

router = APIRouter(tags=["coaching"])


@router.post(
    "/v1/members/{member_id}/one-on-ones",
    status_code=201,
    response_model=OneOnOneRead,
    responses=problem_responses(403, 404, 422),
)
async def schedule_one_on_one(
    member_id: UUID, body: OneOnOneCreate, principal: CurrentPrincipal, uow: UowDep, now: NowDep
) -> OneOnOneRead:
    """Schedule a 1:1 with a rep (their manager or an admin)."""
    cmd = handlers.ScheduleOneOnOne(
        member_id=member_id, scheduled_at=body.scheduled_at, cadence=body.cadence
    )
    row = await handlers.schedule_one_on_one(cmd, uow=uow, principal=principal)
    return OneOnOneRead.from_row(row, now=now)


@router.get(
    "/v1/members/{member_id}/one-on-ones",
    response_model=Page[OneOnOneRead],
    responses=problem_responses(404),
)
async def list_one_on_ones(
    member_id: UUID,
    principal: CurrentPrincipal,
    uow: UowDep,
    now: NowDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[OneOnOneRead]:
    """List a rep's 1:1s, proposed ones included (the rep, their manager, admins)."""
    rows, next_cursor = await handlers.list_one_on_ones(
        member_id, uow=uow, principal=principal, cursor=cursor, limit=limit
    )
    return Page[OneOnOneRead](
        items=[OneOnOneRead.from_row(r, now=now) for r in rows], next_cursor=next_cursor
    )


@router.get(
    "/v1/one-on-ones/{one_on_one_id}", response_model=OneOnOneRead, responses=problem_responses(404)
)
async def get_one_on_one(
    one_on_one_id: UUID, principal: CurrentPrincipal, uow: UowDep, now: NowDep
) -> OneOnOneRead:
    """Show a 1:1 with its notes (the rep sees shared ones only) and action items."""
    detail = await handlers.get_one_on_one(one_on_one_id, uow=uow, principal=principal)
    return OneOnOneRead.from_row(detail.one_on_one, now=now, detail=detail)


@router.patch(
    "/v1/one-on-ones/{one_on_one_id}",
    response_model=OneOnOneRead,
    responses=problem_responses(403, 404, 409, 422),
)
async def update_one_on_one(
    one_on_one_id: UUID, body: OneOnOneUpdate, principal: CurrentPrincipal, uow: UowDep, now: NowDep
) -> OneOnOneRead:
    """Confirm a proposed 1:1, move it, record it as held, or cancel it (the manager)."""
    cmd = handlers.UpdateOneOnOne(
        one_on_one_id=one_on_one_id, status=body.status, scheduled_at=body.scheduled_at
    )
    row = await handlers.update_one_on_one(cmd, uow=uow, principal=principal)
    return OneOnOneRead.from_row(row, now=now)


@router.get(
    "/v1/one-on-ones/{one_on_one_id}/agenda",
    response_model=AgendaRead,
    responses=problem_responses(404),
)
async def get_agenda(
    one_on_one_id: UUID, principal: CurrentPrincipal, uow: UowDep, now: NowDep
) -> AgendaRead:
    """Build the 1:1's agenda from what happened since the rep's previous 1:1."""
    agenda = await handlers.build_agenda(one_on_one_id, uow=uow, principal=principal)
    return AgendaRead.from_agenda(agenda, today=now.date())


@router.post(
    "/v1/one-on-ones/{one_on_one_id}/notes",
    status_code=201,
    response_model=OneOnOneNoteCreated,
    responses=problem_responses(403, 404, 422),
)
async def add_one_on_one_note(
    one_on_one_id: UUID,
    body: OneOnOneNoteCreate,
    principal: CurrentPrincipal,
    uow: UowDep,
    now: NowDep,
) -> OneOnOneNoteCreated:
    """Write a 1:1 note with action items (`manager_only` notes: the manager only)."""
    cmd = handlers.AddOneOnOneNote(
        one_on_one_id=one_on_one_id,
        body=body.body,
        visibility=body.visibility,
        action_items=[
            handlers.NewActionItem(description=i.description, owner_id=i.owner_id, due_on=i.due_on)
            for i in body.action_items
        ],
    )
    note, items = await handlers.add_one_on_one_note(cmd, uow=uow, principal=principal)
    today = now.date()
    return OneOnOneNoteCreated(
        note=OneOnOneNoteRead.from_row(note),
        action_items=[ActionItemRead.from_row(i, today=today) for i in items],
    )


@router.get(
    "/v1/action-items", response_model=Page[ActionItemRead], responses=problem_responses(404, 422)
)
async def list_action_items(
    principal: CurrentPrincipal,
    uow: UowDep,
    now: NowDep,
    owner_id: UUID | None = None,
    status: ActionItemStatus | None = None,
    team_id: UUID | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[ActionItemRead]:
    """List action items: your own, and your teams' if you manage them (admins: all)."""
    rows, next_cursor = await handlers.list_action_items(
        uow=uow,
        principal=principal,
        owner_id=owner_id,
        status=status,
        team_id=team_id,
        cursor=cursor,
        limit=limit,
    )
    today = now.date()
    return Page[ActionItemRead](
        items=[ActionItemRead.from_row(r, today=today) for r in rows], next_cursor=next_cursor
    )


@router.patch(
    "/v1/action-items/{item_id}",
    response_model=ActionItemRead,
    responses=problem_responses(404, 422),
)
async def update_action_item(
    item_id: UUID, body: ActionItemUpdate, principal: CurrentPrincipal, uow: UowDep, now: NowDep
) -> ActionItemRead:
    """Mark an action item done or dropped, or reopen it (its owner, the manager, an admin)."""
    row = await handlers.set_action_item_status(
        item_id, status=body.status, uow=uow, principal=principal
    )
    return ActionItemRead.from_row(row, today=now.date())


@router.post(
    "/v1/check-ins/{feedback_id}/answer",
    response_model=CheckInRead,
    responses=problem_responses(404, 409, 422),
)
async def answer_check_in(
    feedback_id: UUID, body: CheckInAnswer, principal: CurrentPrincipal, uow: UowDep
) -> CheckInRead:
    """Record the conversation a check-in asked for (the rep's manager or an admin)."""
    row = await handlers.answer_check_in(
        feedback_id, answer=body.body, uow=uow, principal=principal
    )
    return CheckInRead.model_validate(row)


@router.get(
    "/v1/teams/{team_id}/episodes",
    response_model=Page[EpisodeRead],
    responses=problem_responses(404, 422),
)
async def list_episodes(
    team_id: UUID,
    principal: CurrentPrincipal,
    uow: UowDep,
    now: NowDep,
    period_id: UUID | None = None,
) -> Page[EpisodeRead]:
    """Trace each shortfall episode: first conversation, actions done, target moves, recovery."""
    lines = await handlers.episode_timeline(
        team_id, period_id=period_id, uow=uow, principal=principal
    )
    today = now.date()
    # One page: a team has a handful of episodes per period, and the timeline reads as a whole.
    return Page[EpisodeRead](
        items=[EpisodeRead.from_line(line, today=today) for line in lines], next_cursor=None
    )
