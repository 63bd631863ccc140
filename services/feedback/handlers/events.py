"""Reactions to other services' facts: the team/member directory and shortfall check-ins."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.feedback.adapters.unit_of_work import FeedbackUnitOfWork
from shared.events import Envelope
from shared.events import feedback as feedback_events
from shared.events.goals import MemberJoined, MemberLeft, MemberUpdated, TeamCreated, TeamUpdated
from shared.events.performance import ShortfallDetected

CHECK_IN_AUTHOR = "system"


async def on_team_created(
    event: TeamCreated | TeamUpdated, envelope: Envelope, uow: FeedbackUnitOfWork
) -> None:
    """Know the team and who manages it."""
    await uow.directory.put_team(
        org_id=event.org_id, team_id=event.team_id, name=event.name, manager_id=event.manager_id
    )


on_team_updated = on_team_created


async def on_member_joined(
    event: MemberJoined | MemberUpdated, envelope: Envelope, uow: FeedbackUnitOfWork
) -> None:
    """Know the member and their team (an older version than the one held changes nothing)."""
    await uow.directory.put_member(
        org_id=event.org_id,
        member_id=event.member_id,
        team_id=event.team_id,
        name=event.name,
        version=event.version,
    )


on_member_updated = on_member_joined


async def on_member_left(event: MemberLeft, envelope: Envelope, uow: FeedbackUnitOfWork) -> None:
    """A member who left can no longer be named as a party, attendee or owner."""
    await uow.directory.member_left(
        org_id=event.org_id, member_id=event.member_id, team_id=event.team_id
    )


async def on_shortfall_detected(
    event: ShortfallDetected, envelope: Envelope, uow: FeedbackUnitOfWork
) -> None:
    """Open one check-in per shortfall for the struggling rep, addressed to the team's manager."""
    if await uow.feedback.by_shortfall(org_id=event.org_id, shortfall_id=event.shortfall_id):
        return
    team = await uow.directory.team(org_id=event.org_id, team_id=event.team_id)
    note = await uow.feedback.add(
        {
            "id": uuid.uuid4(),
            "org_id": event.org_id,
            "team_id": event.team_id,
            "member_id": event.member_id,
            "addressee_id": team.manager_id if team is not None else None,
            "author_sub": CHECK_IN_AUTHOR,
            "kind": "check_in",
            "body": (
                f"Check in: the projection falls {event.shortfall} {event.currency} short of "
                f"target as of {event.as_of.date().isoformat()}."
            ),
            "shortfall_id": event.shortfall_id,
            "created_at": datetime.now(UTC),
        }
    )
    uow.emit(
        feedback_events.CheckInOpened(
            org_id=event.org_id,
            team_id=event.team_id,
            feedback_id=note.id,
            member_id=event.member_id,
            shortfall_id=event.shortfall_id,
        )
    )
