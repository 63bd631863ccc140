"""Reactions to other services' facts; the consumer runner owns inbox, commit and retries."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from services.goals.adapters.orm import (
    EpisodeConversation,
    Member,
    PastResult,
    Target,
    Team,
    TeamThresholds,
)
from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from services.goals.domain.rebalancing import (
    plan_adjustment,
)
from services.goals.handlers.ledger import apply_new_targets, policy_for, positions_of
from services.goals.handlers.standings import Standing, remember_standings
from shared.domain_errors import DomainError, NotFound
from shared.events import Envelope
from shared.events.feedback import AdjustTarget, ConversationHeld, DisputeResolved
from shared.events.performance import AttainmentChanged, PeriodClosed, ThresholdsChanged
from shared.money import to_minor
from shared.processor import with_many

# Facts were bounded where they entered; totals and rebalanced targets may exceed one amount's
# maximum, so reactions convert with limit=None (only what 64 bits cannot hold is refused).

log = logging.getLogger(__name__)


async def on_period_closed(event: PeriodClosed, envelope: Envelope, uow: GoalsUnitOfWork) -> None:
    """Learn each member's result of a closed period (used by historical allocation)."""
    for result in event.results:
        member = await uow.repo.find(Member, org_id=event.org_id, id=result.member_id)
        if member is None:
            log.warning("period_closed names unknown member %s; skipped", result.member_id)
            continue
        achieved = to_minor(result.achieved, event.currency, limit=None)
        row = await uow.repo.result_for(
            org_id=event.org_id,
            member_id=member.id,
            starts_on=event.starts_on,
            ends_on=event.ends_on,
        )
        if row is None:
            row = PastResult.model_validate(
                {
                    "org_id": event.org_id,
                    "member_id": member.id,
                    "period_name": event.period_name,
                    "starts_on": event.starts_on,
                    "ends_on": event.ends_on,
                    "achieved_minor": achieved,
                    "currency": event.currency,
                    "source": "event",
                }
            )
        else:
            row.achieved_minor, row.source = achieved, "event"
        uow.repo.add(row)


async def remember_attainment(
    facts: Sequence[tuple[AttainmentChanged, Envelope]], uow: GoalsUnitOfWork
) -> None:
    """Keep the standings of a run of facts: one read per org and period, facts in their order."""
    runs: dict[tuple[uuid.UUID, uuid.UUID], list[Standing]] = {}
    for event, _ in facts:
        runs.setdefault((event.org_id, event.period_id), []).append(
            Standing(
                event.member_id,
                to_minor(event.achieved, event.currency, limit=None),
                to_minor(event.projected, event.currency, limit=None),
                event.status,
                event.as_of,
            )
        )
    for (org, period_id), reports in runs.items():
        await remember_standings(uow, org=org, period_id=period_id, reports=reports)


@with_many(remember_attainment)
async def on_attainment_changed(
    event: AttainmentChanged, envelope: Envelope, uow: GoalsUnitOfWork
) -> None:
    """Keep each member's latest standing (floors and headroom for departures and disputes)."""
    await remember_attainment([(event, envelope)], uow)


async def on_thresholds_changed(
    event: ThresholdsChanged, envelope: Envelope, uow: GoalsUnitOfWork
) -> None:
    """Keep a team's pace thresholds (newer versions only) for its roll-up status."""
    row = await uow.repo.thresholds_of(org_id=event.org_id, team_id=event.team_id)
    if row is not None and row.version >= event.version:
        return  # an older announcement arrived late
    values = _threshold_values(event)
    if row is None:
        row = TeamThresholds.model_validate(
            {"team_id": event.team_id, "org_id": event.org_id} | values
        )
    else:
        for name, value in values.items():
            setattr(row, name, value)
    uow.repo.add(row)


def _threshold_values(event: ThresholdsChanged) -> dict[str, object]:
    names = ("at_risk_below", "struggling_below", "hysteresis", "min_elapsed_share")
    return {name: str(getattr(event, name)) for name in names} | {"version": event.version}


async def on_conversation_held(
    event: ConversationHeld, envelope: Envelope, uow: GoalsUnitOfWork
) -> None:
    """Remember an episode's first conversation: the policy may wait for it before moving target."""
    if event.shortfall_id is None or event.period_id is None:
        return  # a conversation outside any shortfall episode holds nothing back
    if (
        await uow.repo.episode_conversation(org_id=event.org_id, shortfall_id=event.shortfall_id)
        is not None
    ):
        return  # the first conversation of the episode stands
    uow.repo.add(
        EpisodeConversation(
            org_id=event.org_id,
            shortfall_id=event.shortfall_id,
            member_id=event.member_id,
            team_id=event.team_id,
            period_id=event.period_id,
            kind=event.kind,
            reference_id=event.reference_id,
            held_at=event.held_at,
        )
    )


async def on_dispute_resolved(
    event: DisputeResolved, envelope: Envelope, uow: GoalsUnitOfWork
) -> None:
    """Apply adjust_target actions as ledger entries; credit moves are performance's business."""
    for action in event.actions:
        if isinstance(action, AdjustTarget):
            try:
                await _adjust(event, envelope, uow, action)
            except (DomainError, NotFound) as exc:
                # Retrying cannot make an impossible adjustment possible: log it for the manager.
                log.warning("dispute %s: adjust_target not applied: %s", event.dispute_id, exc)


async def _adjust(
    event: DisputeResolved, envelope: Envelope, uow: GoalsUnitOfWork, action: AdjustTarget
) -> None:
    org = event.org_id
    team = await uow.repo.get(Team, org_id=org, id=event.team_id, what="team")
    plan = await uow.repo.plan_of(org_id=org, team_id=team.id, period_id=action.period_id)
    if plan is None:
        raise NotFound(f"team {team.id} has no plan for period {action.period_id}")
    targets: list[Target] = await uow.repo.targets_of(org_id=org, plan_id=plan.id)
    if action.member_id not in {t.member_id for t in targets}:
        raise NotFound(f"member {action.member_id} has no target in that plan")
    active = {m.id for m in await uow.repo.active_members(org_id=org, team_id=team.id)} | {
        action.member_id
    }
    delta = to_minor(action.delta, team.currency, limit=None)
    adjustment = plan_adjustment(
        member_id=action.member_id,
        delta_minor=delta,
        team=await positions_of(uow=uow, plan=plan, targets=targets, members=active),
        policy=await policy_for(uow=uow, org=org, team_id=team.id),
        team_total_changes=action.team_total_changes,
    )
    apply_new_targets(
        uow=uow,
        plan=plan,
        targets=targets,
        new_targets=adjustment.new_targets,
        reason="dispute_outcome",
        actor=event.decided_by,
        source_event_id=envelope.id,
        note=f"dispute {event.dispute_id}: {event.summary}"[:1000],
    )
    if action.team_total_changes and delta:
        plan.target_minor += delta
        plan.version += 1
        uow.repo.add(plan)
