"""Reactions to other services' facts: the team/member directory and shortfall check-ins."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from services.feedback.adapters.orm import MemberFact, ShortfallEpisode
from services.feedback.adapters.unit_of_work import FeedbackUnitOfWork
from services.feedback.handlers.coaching import propose_one_on_one
from shared.events import Envelope
from shared.events import feedback as feedback_events
from shared.events.goals import (
    MemberJoined,
    MemberLeft,
    MemberUpdated,
    TargetChanged,
    TargetsRebalanced,
    TeamCreated,
    TeamUpdated,
)
from shared.events.performance import (
    AttainmentChanged,
    MemberShortfall,
    ShortfallDetected,
    ShortfallRecovered,
    TeamShortfallsDetected,
)

CHECK_IN_AUTHOR = "system"


async def on_team_created(
    event: TeamCreated | TeamUpdated, envelope: Envelope, uow: FeedbackUnitOfWork
) -> None:
    """Know the team and who manages it."""
    new = await uow.directory.put_team(
        org_id=event.org_id, team_id=event.team_id, name=event.name, manager_id=event.manager_id
    )
    if new:
        # Topics are consumed in no fixed order: a shortfall may arrive before its team. Its
        # check-in then has no addressee, and a digest needs a known team, so these are exactly
        # the check-ins that were waiting for the manager.
        await uow.feedback.address_orphan_check_ins(
            org_id=event.org_id, team_id=event.team_id, manager_id=event.manager_id
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
    await uow.subscriptions.queue_deliveries(envelope)
    team = await uow.directory.team(org_id=event.org_id, team_id=event.team_id)
    manager = team.manager_id if team is not None else None
    for named in event.shortfalls:
        await _remember_episode(uow, event=event, shortfall=named, period_id=event.period_id)
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
    await uow.subscriptions.queue_deliveries(envelope)
    team = await uow.directory.team(org_id=event.org_id, team_id=event.team_id)
    shortfall = MemberShortfall(
        shortfall_id=event.shortfall_id,
        member_id=event.member_id,
        episode=1,
        shortfall=event.shortfall,
        new=True,
    )
    await _remember_episode(uow, event=event, shortfall=shortfall, period_id=event.period_id)
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
    await propose_one_on_one(
        uow,
        org_id=event.org_id,
        team_id=event.team_id,
        member_id=shortfall.member_id,
        shortfall_id=shortfall.shortfall_id,
        as_of=event.as_of,
    )
    return True


async def _remember_episode(
    uow: FeedbackUnitOfWork,
    *,
    event: TeamShortfallsDetected | ShortfallDetected,
    shortfall: MemberShortfall,
    period_id: uuid.UUID,
) -> None:
    """Keep the episode for the timeline (the first report of it says when it started)."""
    if await uow.coaching.episode(org_id=event.org_id, shortfall_id=shortfall.shortfall_id):
        return
    data = {
        "shortfall_id": shortfall.shortfall_id,
        "org_id": event.org_id,
        "team_id": event.team_id,
        "member_id": shortfall.member_id,
        "period_id": period_id,
        "episode": shortfall.episode,
        "shortfall": str(shortfall.shortfall),
        "currency": event.currency,
        "started_at": event.as_of,
    }
    await uow.coaching.add(ShortfallEpisode.model_validate(data))


async def on_shortfall_recovered(
    event: ShortfallRecovered, envelope: Envelope, uow: FeedbackUnitOfWork
) -> None:
    """Close the episode on the timeline: the rep is on track and above target again."""
    row = await uow.coaching.episode(org_id=event.org_id, shortfall_id=event.shortfall_id)
    if row is not None and row.recovered_at is None:
        row.recovered_at = event.as_of
        await uow.coaching.add(row)


async def _add_fact(
    uow: FeedbackUnitOfWork,
    *,
    envelope: Envelope,
    event: AttainmentChanged | TargetChanged,
    kind: str,
    at: datetime,
    data: dict[str, object],
) -> None:
    if await uow.coaching.has_fact(org_id=event.org_id, event_id=envelope.id):
        return
    row = {
        "id": uuid.uuid4(),
        "org_id": event.org_id,
        "team_id": event.team_id,
        "member_id": event.member_id,
        "period_id": event.period_id,
        "kind": kind,
        "event_id": envelope.id,
        "at": at,
        "data": data,
    }
    await uow.coaching.add(MemberFact.model_validate(row))


async def on_attainment_changed(
    event: AttainmentChanged, envelope: Envelope, uow: FeedbackUnitOfWork
) -> None:
    """Keep a rep's pace changes (status moves) for their next 1:1's agenda."""
    last = await uow.coaching.latest_fact(
        org_id=event.org_id,
        member_id=event.member_id,
        period_id=event.period_id,
        kind="pace_change",
    )
    previous = last.data["status"] if last is not None else "on_track"
    # Only moves are agenda material; a sale that leaves the status alone is not.
    if previous == event.status:
        return
    if last is not None and last.at > event.as_of:
        return  # an older evaluation delivered late says nothing about now
    await _add_fact(
        uow,
        envelope=envelope,
        event=event,
        kind="pace_change",
        at=event.as_of,
        data={
            "status": event.status,
            "previous_status": previous,
            "percent": str(event.percent),
            "projected": str(event.projected),
            "target": str(event.target),
            "currency": event.currency,
        },
    )


async def on_target_changed(
    event: TargetChanged, envelope: Envelope, uow: FeedbackUnitOfWork
) -> None:
    """Keep a rep's target changes for their next 1:1's agenda and the episode timeline."""
    await uow.subscriptions.queue_deliveries(envelope)
    await _add_fact(
        uow,
        envelope=envelope,
        event=event,
        kind="target_change",
        at=envelope.time if envelope.time else datetime.now(UTC),
        data={
            "target_id": str(event.target_id),
            "old_amount": str(event.old_amount),
            "new_amount": str(event.new_amount),
            "currency": event.currency,
            "reason": event.reason,
            "version": event.version,
        },
    )


async def on_targets_rebalanced(
    event: TargetsRebalanced, envelope: Envelope, uow: FeedbackUnitOfWork
) -> None:
    """Tell subscribed systems a rebalance was applied; thank the reps who volunteered for it."""
    await uow.subscriptions.queue_deliveries(envelope)
    if event.applied == "offer":
        await _thank_volunteers(uow, event)


async def _thank_volunteers(uow: FeedbackUnitOfWork, event: TargetsRebalanced) -> None:
    """One recognition note to each rep who took on target in a settled offer round."""
    taken: dict[uuid.UUID, Decimal] = {}
    for t in event.transfers:
        taken[t.to_member_id] = taken.get(t.to_member_id, Decimal(0)) + t.amount
    for member_id, amount in sorted(taken.items(), key=lambda kv: str(kv[0])):
        await uow.feedback.add(
            {
                "id": uuid.uuid4(),
                "org_id": event.org_id,
                "team_id": event.team_id,
                "member_id": member_id,
                "addressee_id": member_id,
                "author_sub": CHECK_IN_AUTHOR,
                "kind": "recognition",
                "body": (
                    f"Thank you for volunteering: you took on {amount} {event.currency} of your "
                    "team's shortfall."
                ),
                "created_at": datetime.now(UTC),
            }
        )
