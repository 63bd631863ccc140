"""Reactions to other services' facts; the consumer runner owns inbox, commit and retries."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from services.goals.adapters.orm import (
    Member,
    MemberStanding,
    PastResult,
    Rebalance,
    Target,
    Team,
)
from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from services.goals.domain.rebalancing import (
    MemberPosition,
    Policy,
    plan_adjustment,
    plan_rebalance,
)
from services.goals.handlers.ledger import apply_new_targets, policy_for, positions_of
from services.goals.handlers.rebalancing import apply_rebalance
from shared.domain_errors import DomainError, NotFound
from shared.events import Envelope
from shared.events.feedback import AdjustTarget, DisputeResolved
from shared.events.performance import AttainmentChanged, PeriodClosed, ShortfallDetected
from shared.money import to_minor

# Facts were bounded where they entered; totals and rebalanced targets may exceed one amount's
# maximum, so reactions convert with limit=None (only what 64 bits cannot hold is refused).
from shared.timeutil import as_utc

log = logging.getLogger(__name__)


async def on_period_closed(event: PeriodClosed, envelope: Envelope, uow: GoalsUnitOfWork) -> None:
    """Learn each member's result of a closed period (used by historical allocation)."""
    for result in event.results:
        member = await uow.session.get(Member, result.member_id)
        if member is None or member.org_id != event.org_id:
            log.warning("period_closed names unknown member %s; skipped", result.member_id)
            continue
        achieved = to_minor(result.achieved, event.currency, limit=None)
        row = await uow.repo.result_for(event.org_id, member.id, event.starts_on, event.ends_on)
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


async def _remember_standing(
    uow: GoalsUnitOfWork,
    *,
    org: uuid.UUID,
    member_id: uuid.UUID,
    period_id: uuid.UUID,
    achieved: int,
    projected: int,
    status: str,
    as_of: object,
) -> None:
    row = await uow.repo.standing(org, member_id, period_id)
    if row is not None and as_utc(row.as_of) > as_utc(as_of):  # type: ignore[arg-type]
        return  # an older report arrived late
    row = row or MemberStanding.model_validate(
        {
            "org_id": org,
            "member_id": member_id,
            "period_id": period_id,
            "achieved_minor": achieved,
            "projected_minor": projected,
            "status": status,
            "as_of": as_of,
        }
    )
    row.achieved_minor, row.projected_minor, row.status, row.as_of = (
        achieved,
        projected,
        status,
        as_of,  # type: ignore[assignment]
    )
    uow.repo.add(row)


async def on_attainment_changed(
    event: AttainmentChanged, envelope: Envelope, uow: GoalsUnitOfWork
) -> None:
    """Keep each member's latest standing (floors and headroom for departures and disputes)."""
    await _remember_standing(
        uow,
        org=event.org_id,
        member_id=event.member_id,
        period_id=event.period_id,
        achieved=to_minor(event.achieved, event.currency, limit=None),
        projected=to_minor(event.projected, event.currency, limit=None),
        status=event.status,
        as_of=event.as_of,
    )


async def on_shortfall_detected(
    event: ShortfallDetected, envelope: Envelope, uow: GoalsUnitOfWork
) -> None:
    """Answer a shortfall by the team's policy: apply, propose, or record why it was skipped."""
    org = event.org_id
    if await uow.repo.rebalance_by_source(org, envelope.id) is not None:
        return  # this event already had its one rebalance
    team = await uow.session.get(Team, event.team_id)
    if team is None or team.org_id != org:
        log.warning("shortfall for unknown team %s; skipped", event.team_id)
        return
    row = Rebalance.model_validate(
        {
            "org_id": org,
            "team_id": team.id,
            "period_id": event.period_id,
            "giver_id": event.member_id,
            "shortfall_id": event.shortfall_id,
            "source_event_id": envelope.id,
            "status": "skipped",
            "currency": team.currency,
            "requested_minor": max(to_minor(event.shortfall, event.currency, limit=None), 0),
            "as_of": event.as_of,
        }
    )
    row.uncovered_minor = row.requested_minor
    uow.repo.add(row)
    row.reason = await _decide(event, envelope, uow, row, team)
    await uow.repo.flush()  # the unique (org, source_event_id) key guards concurrent deliveries


async def _decide(
    event: ShortfallDetected, envelope: Envelope, uow: GoalsUnitOfWork, row: Rebalance, team: Team
) -> str | None:
    """Fill the rebalance row; return the reason when nothing is applied or proposed."""
    org = event.org_id
    plan = await uow.repo.plan_of(org, team.id, event.period_id)
    if plan is None or plan.status != "published":
        return "no_published_plan"
    row.plan_id = plan.id
    targets = await uow.repo.targets_of(org, plan.id)
    by_id = {t.id: t for t in targets}
    for snap in event.snapshot:
        await _remember_standing(
            uow,
            org=org,
            member_id=snap.member_id,
            period_id=event.period_id,
            achieved=to_minor(snap.achieved, event.currency, limit=None),
            projected=to_minor(snap.projected, event.currency, limit=None),
            status=snap.status,
            as_of=event.as_of,
        )
    stale = [
        str(s.target_id)
        for s in event.snapshot
        if s.target_id not in by_id or by_id[s.target_id].version != s.target_version
    ]
    if stale:
        # Targets moved since performance took the snapshot: its numbers no longer describe them.
        return "stale_target_versions: " + ", ".join(sorted(stale))
    policy_row = await uow.repo.policy_of(org, team.id)
    mode = policy_row.mode if policy_row else "propose"
    cooldown = policy_row.cooldown_hours if policy_row else 24
    freeze = policy_row.freeze_days_before_end if policy_row else 7
    if mode == "off":
        return "policy_off"
    as_of = as_utc(event.as_of)
    if as_of >= as_utc(event.period_ends_at) - timedelta(days=freeze):
        return "freeze_window"
    last = await uow.repo.last_acted_rebalance(org, team.id, event.period_id)
    if last is not None and as_of < as_utc(last.as_of) + timedelta(hours=cooldown):
        return "cooldown"
    active = {m.id for m in await uow.repo.active_members(org, team.id)}
    snap = {s.member_id: s for s in event.snapshot}
    positions = [
        MemberPosition(
            member_id=t.member_id,
            target_minor=t.amount_minor,
            original_target_minor=t.original_minor,
            achieved_minor=to_minor(snap[t.member_id].achieved, event.currency, limit=None),
            projected_minor=to_minor(snap[t.member_id].projected, event.currency, limit=None),
            status=snap[t.member_id].status,
        )
        for t in targets
        if t.member_id in active and t.member_id in snap
    ]
    if event.member_id not in {p.member_id for p in positions}:
        return "giver_not_in_snapshot"
    policy: Policy = await policy_for(uow=uow, org=org, team_id=team.id)
    plan_ = plan_rebalance(
        giver_id=event.member_id,
        shortfall_minor=to_minor(event.shortfall, event.currency, limit=None),
        team=positions,
        policy=policy,
    )
    row.requested_minor = plan_.requested_minor
    row.moved_minor = plan_.moved_minor
    row.uncovered_minor = plan_.uncovered_minor
    row.transfers = [
        {"from": str(t.from_member), "to": str(t.to_member), "amount_minor": t.amount_minor}
        for t in plan_.transfers
    ]
    row.new_targets = {str(k): v for k, v in plan_.new_targets.items()}
    touched = {k for k in plan_.new_targets}
    row.target_versions = {str(t.id): t.version for t in targets if t.member_id in touched}
    if not plan_.transfers:
        return "nothing_placeable"
    if mode == "auto":
        row.status = "applied"
        await apply_rebalance(uow=uow, row=row, plan=plan, targets=targets, applied="auto")
    else:
        row.status = "proposed"
    return None


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
    team = await uow.repo.get(Team, org=org, id=event.team_id, what="team")
    plan = await uow.repo.plan_of(org, team.id, action.period_id)
    if plan is None:
        raise NotFound(f"team {team.id} has no plan for period {action.period_id}")
    targets: list[Target] = await uow.repo.targets_of(org, plan.id)
    if action.member_id not in {t.member_id for t in targets}:
        raise NotFound(f"member {action.member_id} has no target in that plan")
    active = {m.id for m in await uow.repo.active_members(org, team.id)} | {action.member_id}
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
