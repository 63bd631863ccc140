"""Team meeting routes: schedule, list, read, notes with action items."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from services.feedback.api.competitor_schemas import MeetingAgendaRead
from services.feedback.api.deps import NowDep, UowDep
from services.feedback.api.schemas import (
    MeetingCreate,
    MeetingNoteCreate,
    MeetingNoteRead,
    MeetingRead,
)
from services.feedback.handlers import meetings as handlers
from shared.auth import CurrentPrincipal
from shared.http import Cursor, Limit, Page
from shared.problems import problem_responses

router = APIRouter(tags=["meetings"])


@router.post(
    "/v1/teams/{team_id}/meetings",
    status_code=201,
    response_model=MeetingRead,
    responses=problem_responses(403, 404, 422),
)
async def create_meeting(
    team_id: UUID, body: MeetingCreate, principal: CurrentPrincipal, uow: UowDep, now: NowDep
) -> MeetingRead:
    """Schedule a team meeting (the team's manager or an admin)."""
    cmd = handlers.ScheduleMeeting(
        team_id=team_id,
        title=body.title,
        scheduled_at=body.scheduled_at,
        cadence=body.cadence,
        agenda=body.agenda,
        attendees=body.attendees,
    )
    meeting = await handlers.schedule_meeting(cmd, uow=uow, principal=principal)
    return MeetingRead.from_row(meeting, now=now)


@router.get(
    "/v1/teams/{team_id}/meetings",
    response_model=Page[MeetingRead],
    responses=problem_responses(404),
)
async def list_meetings(
    team_id: UUID,
    principal: CurrentPrincipal,
    uow: UowDep,
    now: NowDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[MeetingRead]:
    """List a team's meetings (anyone on the team)."""
    rows, next_cursor = await handlers.list_meetings(
        team_id, uow=uow, principal=principal, cursor=cursor, limit=limit
    )
    return Page[MeetingRead](
        items=[MeetingRead.from_row(r, now=now) for r in rows], next_cursor=next_cursor
    )


@router.get(
    "/v1/meetings/{meeting_id}", response_model=MeetingRead, responses=problem_responses(404)
)
async def get_meeting(
    meeting_id: UUID, principal: CurrentPrincipal, uow: UowDep, now: NowDep
) -> MeetingRead:
    """Show a meeting with its notes and next occurrence."""
    detail = await handlers.get_meeting(meeting_id, uow=uow, principal=principal)
    return MeetingRead.from_row(detail.meeting, now=now, notes=detail.notes)


@router.get(
    "/v1/meetings/{meeting_id}/agenda",
    response_model=MeetingAgendaRead,
    responses=problem_responses(404),
)
async def get_meeting_agenda(
    meeting_id: UUID, principal: CurrentPrincipal, uow: UowDep, now: NowDep
) -> MeetingAgendaRead:
    """The agenda of the meeting's next occurrence, with the intel shared since the last one."""
    agenda = await handlers.build_meeting_agenda(meeting_id, uow=uow, principal=principal, now=now)
    return MeetingAgendaRead.of(agenda)


@router.post(
    "/v1/meetings/{meeting_id}/notes",
    status_code=201,
    response_model=MeetingNoteRead,
    responses=problem_responses(404, 422),
)
async def add_meeting_note(
    meeting_id: UUID, body: MeetingNoteCreate, principal: CurrentPrincipal, uow: UowDep
) -> MeetingNoteRead:
    """Add notes and action items to a meeting (anyone on the team)."""
    cmd = handlers.AddMeetingNote(
        meeting_id=meeting_id,
        body=body.body,
        action_items=[
            handlers.ActionItem(description=i.description, owner_id=i.owner_id, due_on=i.due_on)
            for i in body.action_items
        ],
    )
    return MeetingNoteRead.from_row(
        await handlers.add_meeting_note(cmd, uow=uow, principal=principal)
    )
