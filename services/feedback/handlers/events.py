"""Reactions to other services' facts: the team/member directory and shortfall check-ins."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.feedback.adapters.unit_of_work import FeedbackUnitOfWork
from shared.events import Envelope
from shared.events import feedback as feedback_events
from shared.events.goals import MemberJoined, MemberLeft, MemberUpdated, TeamCreated, TeamUpdated
from shared.events.performance import MemberShortfall, ShortfallDetected, TeamShortfallsDetected

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


# From this many reps newly struggling in one team evaluation, the manager gets one digest note
# listing them instead of one check-in notification each (the check-ins are still opened).
DIGEST_FROM = 3


async def on_team_shortfalls_detected(
    event: TeamShortfallsDetected, envelope: Envelope, uow: FeedbackUnitOfWork
) -> None:
    """Open one check-in per newly struggling rep; a digest for the manager when there are many."""
    team = await uow.directory.team(org_id=event.org_id, team_id=event.team_id)
    manager = team.manager_id if team is not None else None
    fresh = [s for s in event.shortfalls if s.new]
    digest = len(fresh) >= DIGEST_FROM and manager is not None
    opened = []
    for shortfall in fresh:
        if await _open_check_in(
            uow,
            event=event,
            shortfall=shortfall,
            addressee=None if digest else manager,
        ):
            opened.append(shortfall)
    if digest and opened:
        lines = [
            f"- {await _name(uow, event, s.member_id)}: {s.shortfall} {event.currency}"
            for s in opened
        ]
        await uow.feedback.add(
            {
                "id": uuid.uuid4(),
                "org_id": event.org_id,
                "team_id": event.team_id,
                "member_id": manager,
                "addressee_id": manager,
                "author_sub": CHECK_IN_AUTHOR,
                "kind": "notice",
                "body": (
                    f"{len(opened)} reps fell behind as of {event.as_of.date().isoformat()}; "
                    "a check-in is open for each:\n" + "\n".join(lines)
                ),
                "created_at": datetime.now(UTC),
            }
        )


async def on_shortfall_detected(
    event: ShortfallDetected, envelope: Envelope, uow: FeedbackUnitOfWork
) -> None:
    """Open the check-in of a one-member shortfall (the earlier contract, still accepted)."""
    team = await uow.directory.team(org_id=event.org_id, team_id=event.team_id)
    shortfall = MemberShortfall(
        shortfall_id=event.shortfall_id,
        member_id=event.member_id,
        episode=1,
        shortfall=event.shortfall,
        new=True,
    )
    await _open_check_in(
        uow, event=event, shortfall=shortfall, addressee=team.manager_id if team else None
    )


async def _name(
    uow: FeedbackUnitOfWork, event: TeamShortfallsDetected, member_id: uuid.UUID
) -> str:
    member = await uow.directory.member(org_id=event.org_id, member_id=member_id)
    return member.name if member is not None else str(member_id)


async def _open_check_in(
    uow: FeedbackUnitOfWork,
    *,
    event: TeamShortfallsDetected | ShortfallDetected,
    shortfall: MemberShortfall,
    addressee: uuid.UUID | None,
) -> bool:
    """Open the one check-in of a shortfall episode; False if it is open already."""
    if await uow.feedback.by_shortfall(org_id=event.org_id, shortfall_id=shortfall.shortfall_id):
        return False
    note = await uow.feedback.add(
        {
            "id": uuid.uuid4(),
            "org_id": event.org_id,
            "team_id": event.team_id,
            "member_id": shortfall.member_id,
            "addressee_id": addressee,
            "author_sub": CHECK_IN_AUTHOR,
            "kind": "check_in",
            "body": (
                f"Check in: the projection falls {shortfall.shortfall} {event.currency} short of "
                f"target as of {event.as_of.date().isoformat()}."
            ),
            "shortfall_id": shortfall.shortfall_id,
            "created_at": datetime.now(UTC),
        }
    )
    uow.emit(
        feedback_events.CheckInOpened(
            org_id=event.org_id,
            team_id=event.team_id,
            feedback_id=note.id,
            member_id=shortfall.member_id,
            shortfall_id=shortfall.shortfall_id,
        )
    )
    return True
