"""Team meeting use cases: schedule, list, read, take notes with action items."""

from __future__ import annotations

import calendar
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from services.feedback.adapters.orm import IntelItem, Meeting, MeetingNote
from services.feedback.adapters.unit_of_work import FeedbackUnitOfWork
from services.feedback.handlers.access import is_in_team, team_roster, visible_team
from services.feedback.handlers.coaching import NewActionItem, add_action_items
from shared.auth import Principal
from shared.domain_errors import Forbidden, InvalidInput, NotFound

CADENCES = ("none", "weekly", "biweekly", "monthly")


@dataclass(frozen=True, kw_only=True)
class ScheduleMeeting:
    """Schedule a (possibly recurring) team meeting."""

    team_id: UUID
    title: str
    scheduled_at: datetime
    cadence: str = "none"
    agenda: list[str] = field(default_factory=list)
    attendees: list[UUID] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ActionItem:
    """Something someone on the team will do after the meeting."""

    description: str
    owner_id: UUID
    due_on: date | None = None


@dataclass(frozen=True, kw_only=True)
class AddMeetingNote:
    """Record notes of a meeting."""

    meeting_id: UUID
    body: str
    action_items: list[ActionItem] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class MeetingAgenda:
    """A meeting's next occurrence, the team's meeting before it, and the intel shared since."""

    meeting: Meeting
    occurs_at: datetime
    since: datetime | None
    intel_shared: list[IntelItem]


@dataclass(frozen=True, kw_only=True)
class MeetingDetail:
    """A meeting with its notes."""

    meeting: Meeting
    notes: list[MeetingNote]


def next_occurrence(*, scheduled_at: datetime, cadence: str, now: datetime) -> datetime | None:
    """Return the first occurrence at or after now (None once a one-off meeting is past)."""
    first = scheduled_at
    assert first is not None
    if first >= now:
        return first
    if cadence == "weekly" or cadence == "biweekly":
        step = timedelta(weeks=1 if cadence == "weekly" else 2)
        periods = -(-(now - first) // step)  # ceiling division
        return first + periods * step
    if cadence == "monthly":
        months = (now.year - first.year) * 12 + now.month - first.month
        candidate = _add_months(first, months)
        return candidate if candidate >= now else _add_months(first, months + 1)
    return None


def previous_occurrence(
    *, scheduled_at: datetime, cadence: str, before: datetime
) -> datetime | None:
    """Return the last occurrence strictly before ``before`` (None if the first is not yet)."""
    first = scheduled_at
    assert first is not None
    if first >= before:
        return None
    if cadence == "weekly" or cadence == "biweekly":
        step = timedelta(weeks=1 if cadence == "weekly" else 2)
        return first + (-(-(before - first) // step) - 1) * step
    if cadence == "monthly":
        months = (before.year - first.year) * 12 + before.month - first.month
        candidate = _add_months(first, months)
        return candidate if candidate < before else _add_months(first, months - 1)
    return first


def _add_months(moment: datetime, months: int) -> datetime:
    """Same day and time `months` later, clamped to the month's last day (31 Jan -> 28 Feb)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


async def schedule_meeting(
    cmd: ScheduleMeeting, *, uow: FeedbackUnitOfWork, principal: Principal
) -> Meeting:
    """Schedule a meeting: the team's manager or an admin."""
    if cmd.cadence not in CADENCES:
        raise InvalidInput(f"cadence must be one of {', '.join(CADENCES)}", field="cadence")
    if not cmd.title.strip():
        raise InvalidInput("title is required", field="title")
    async with uow:
        team = await visible_team(uow, principal, cmd.team_id)
        if not principal.manages(team.id):
            raise Forbidden("only the team's manager or an admin schedules meetings")
        roster = await team_roster(uow, team)
        strangers = [str(a) for a in cmd.attendees if a not in roster]
        if strangers:
            raise InvalidInput(
                "attendees must be members of the team", field="attendees", not_members=strangers
            )
        meeting = await uow.meetings.add(
            {
                "id": uuid.uuid4(),
                "org_id": principal.org,
                "team_id": team.id,
                "title": cmd.title.strip(),
                "scheduled_at": cmd.scheduled_at.astimezone(UTC),
                "cadence": cmd.cadence,
                "agenda": [a.strip() for a in cmd.agenda if a.strip()],
                "attendees": [str(a) for a in dict.fromkeys(cmd.attendees)],
                "created_by_sub": principal.sub,
                "created_at": datetime.now(UTC),
            }
        )
        await uow.commit()
        return meeting


async def list_meetings(
    team_id: UUID,
    *,
    uow: FeedbackUnitOfWork,
    principal: Principal,
    cursor: str | None,
    limit: int,
) -> tuple[list[Meeting], str | None]:
    """List a team's meetings: anyone on the team."""
    async with uow:
        team = await visible_team(uow, principal, team_id)
        return await uow.meetings.list_for_team(
            org_id=principal.org, team_id=team.id, cursor=cursor, limit=limit
        )


async def _visible_meeting(
    uow: FeedbackUnitOfWork, principal: Principal, meeting_id: UUID
) -> Meeting:
    meeting = await uow.meetings.get(org_id=principal.org, meeting_id=meeting_id)
    if meeting is None:
        raise NotFound("meeting not found")
    team = await uow.directory.team(org_id=principal.org, team_id=meeting.team_id)
    if team is None or not await is_in_team(uow, principal, team):
        raise NotFound("meeting not found")
    return meeting


async def get_meeting(
    meeting_id: UUID, *, uow: FeedbackUnitOfWork, principal: Principal
) -> MeetingDetail:
    """Return a meeting and its notes: anyone on the team."""
    async with uow:
        meeting = await _visible_meeting(uow, principal, meeting_id)
        notes = await uow.meetings.notes(org_id=principal.org, meeting_id=meeting.id)
        return MeetingDetail(meeting=meeting, notes=notes)


async def add_meeting_note(
    cmd: AddMeetingNote, *, uow: FeedbackUnitOfWork, principal: Principal
) -> MeetingNote:
    """Add notes to a meeting: anyone on the team; action item owners must be on it too."""
    if not cmd.body.strip():
        raise InvalidInput("body is required", field="body")
    async with uow:
        meeting = await _visible_meeting(uow, principal, cmd.meeting_id)
        team = await visible_team(uow, principal, meeting.team_id)
        roster = await team_roster(uow, team)
        for index, item in enumerate(cmd.action_items):
            if not item.description.strip():
                raise InvalidInput(
                    "description is required", field=f"action_items[{index}].description"
                )
            if item.owner_id not in roster:
                raise InvalidInput(
                    "the owner must be a member of the team",
                    field=f"action_items[{index}].owner_id",
                )
        note_id = uuid.uuid4()
        # Each action item is also a row of its own, with a status and an overdue announcement.
        items = await add_action_items(
            uow,
            principal=principal,
            team_id=team.id,
            source="meeting",
            source_id=meeting.id,
            items=[
                NewActionItem(description=i.description, owner_id=i.owner_id, due_on=i.due_on)
                for i in cmd.action_items
            ],
        )
        note = await uow.meetings.add_note(
            {
                "id": note_id,
                "org_id": principal.org,
                "meeting_id": meeting.id,
                "body": cmd.body.strip(),
                "action_items": [
                    {
                        "description": i.description.strip(),
                        "owner_id": str(i.owner_id),
                        "due_on": i.due_on.isoformat() if i.due_on else None,
                        "action_item_id": str(row.id),
                    }
                    for i, row in zip(cmd.action_items, items, strict=True)
                ],
                "author_sub": principal.sub,
                "created_at": datetime.now(UTC),
            }
        )
        await uow.commit()
        return note


async def build_meeting_agenda(
    meeting_id: UUID, *, uow: FeedbackUnitOfWork, principal: Principal, now: datetime
) -> MeetingAgenda:
    """The agenda of a meeting's next occurrence: intel the team shared since its last meeting."""
    async with uow:
        meeting = await _visible_meeting(uow, principal, meeting_id)
        occurs_at = (
            next_occurrence(scheduled_at=meeting.scheduled_at, cadence=meeting.cadence, now=now)
            or meeting.scheduled_at
        )
        assert occurs_at is not None
        # The team's last meeting of any series before this one (a one-off review counts too).
        earlier = [
            previous_occurrence(scheduled_at=m.scheduled_at, cadence=m.cadence, before=occurs_at)
            for m in await uow.meetings.all_for_team(org_id=principal.org, team_id=meeting.team_id)
        ]
        since = max((at for at in earlier if at is not None), default=None)
        intel = await uow.intel.shared_between(
            org_id=principal.org, team_id=meeting.team_id, since=since, until=occurs_at
        )
        return MeetingAgenda(meeting=meeting, occurs_at=occurs_at, since=since, intel_shared=intel)
