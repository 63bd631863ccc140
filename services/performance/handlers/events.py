"""Reactions to other services' facts: the read models of teams, members, periods and targets."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from services.performance.adapters.orm import Absence, Member, Period, Target, Team
from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from services.performance.handlers.fx import rebuild_period_valuations
from services.performance.handlers.sales import reassign_credit
from shared.domain_errors import InvalidInput
from shared.events import Envelope
from shared.events.feedback import DisputeResolved, ReassignSaleCredit
from shared.events.goals import (
    AbsenceCancelled,
    AbsenceRecorded,
    MemberJoined,
    MemberLeft,
    MemberUpdated,
    PeriodDefined,
    TargetAssigned,
    TargetChanged,
    TeamCreated,
    TeamUpdated,
)
from shared.money import to_minor
from shared.processor import with_many
from shared.timeutil import utcnow

# Facts were bounded where they entered; totals and rebalanced targets may exceed one amount's
# maximum, so reactions convert with limit=None (only what 64 bits cannot hold is refused).

log = logging.getLogger(__name__)


async def on_team_created(
    event: TeamCreated, envelope: Envelope, uow: PerformanceUnitOfWork
) -> None:
    """Learn a team (its currency and manager)."""
    await _upsert_team(event, uow)


async def on_team_updated(
    event: TeamUpdated, envelope: Envelope, uow: PerformanceUnitOfWork
) -> None:
    """Follow a team's new name, currency, manager or parent team."""
    await _upsert_team(event, uow)


async def _upsert_team(event: TeamCreated | TeamUpdated, uow: PerformanceUnitOfWork) -> None:
    team = await uow.repo.by_id(Team, event.team_id)
    if team is None:
        team = Team.model_validate(
            {
                "id": event.team_id,
                "org_id": event.org_id,
                "name": event.name,
                "currency": event.currency,
                "manager_id": event.manager_id,
                "parent_team_id": event.parent_team_id,
            }
        )
    elif team.org_id != event.org_id:
        return
    else:
        team.name, team.currency, team.manager_id = event.name, event.currency, event.manager_id
        team.parent_team_id = event.parent_team_id
    uow.repo.add(team)


async def upsert_members(
    facts: Sequence[tuple[MemberJoined | MemberUpdated, Envelope]], uow: PerformanceUnitOfWork
) -> None:
    """Many members at once: one read of those known, one insert of the new ones."""
    ids = list({event.member_id for event, _ in facts})
    known = await uow.batch.members_by_id(ids)
    new: dict[uuid.UUID, dict[str, Any]] = {}
    for event, _ in facts:
        values = _member_values(event)
        earlier = new.get(event.member_id)
        if earlier is not None:
            if earlier["org_id"] == event.org_id and event.version > earlier["version"]:
                new[event.member_id] = values
        elif event.member_id in known:
            _follow(known[event.member_id], event, values, uow)
        else:
            new[event.member_id] = values
    if new:
        await uow.batch.insert_members([{**values, "active": True} for values in new.values()])


@with_many(upsert_members)
async def on_member_joined(
    event: MemberJoined, envelope: Envelope, uow: PerformanceUnitOfWork
) -> None:
    """Learn a member and their CRM identities."""
    await _upsert_member(event, uow)


@with_many(upsert_members)
async def on_member_updated(
    event: MemberUpdated, envelope: Envelope, uow: PerformanceUnitOfWork
) -> None:
    """Follow a member's new e-mail or CRM ids (newer versions only)."""
    await _upsert_member(event, uow)


async def _upsert_member(event: MemberJoined | MemberUpdated, uow: PerformanceUnitOfWork) -> None:
    member = await uow.repo.by_id(Member, event.member_id)
    values = _member_values(event)
    if member is None:
        uow.repo.add(Member.model_validate(values))
        return
    _follow(member, event, values, uow)


def _follow(
    member: Member,
    event: MemberJoined | MemberUpdated,
    values: dict[str, Any],
    uow: PerformanceUnitOfWork,
) -> None:
    if member.org_id != event.org_id or event.version <= member.version:
        return  # stale or foreign: an older fact must not undo a newer one
    for name, value in values.items():
        setattr(member, name, value)
    uow.repo.add(member)


def _member_values(event: MemberJoined | MemberUpdated) -> dict[str, Any]:
    return {
        "id": event.member_id,
        "org_id": event.org_id,
        "team_id": event.team_id,
        "name": event.name,
        "email": event.email,
        "crm_hubspot": event.crm_ids.hubspot,
        "crm_salesforce": event.crm_ids.salesforce,
        "crm_pipedrive": event.crm_ids.pipedrive,
        "version": event.version,
        "starts_on": event.starts_on,
        "ramp_schedule": (
            None if event.ramp_schedule is None else [str(v) for v in event.ramp_schedule]
        ),
    }


async def on_member_left(event: MemberLeft, envelope: Envelope, uow: PerformanceUnitOfWork) -> None:
    """Stop mapping CRM owners to a member who left (their sales stay theirs)."""
    member = await uow.repo.member(org_id=event.org_id, member_id=event.member_id)
    if member is not None:
        member.active = False
        uow.repo.add(member)


async def on_absence_recorded(
    event: AbsenceRecorded, envelope: Envelope, uow: PerformanceUnitOfWork
) -> None:
    """Learn an absence: pace expects no sales from the member on those days."""
    if await uow.repo.by_id(Absence, event.absence_id) is not None:
        return
    uow.repo.add(
        Absence.model_validate(
            {
                "id": event.absence_id,
                "org_id": event.org_id,
                "team_id": event.team_id,
                "member_id": event.member_id,
                "starts_on": event.starts_on,
                "ends_on": event.ends_on,
                "kind": event.kind,
            }
        )
    )


async def on_absence_cancelled(
    event: AbsenceCancelled, envelope: Envelope, uow: PerformanceUnitOfWork
) -> None:
    """Forget a cancelled absence (one of another org is left alone)."""
    await uow.repo.forget_absence(org_id=event.org_id, absence_id=event.absence_id)


async def on_period_defined(
    event: PeriodDefined, envelope: Envelope, uow: PerformanceUnitOfWork
) -> None:
    """Learn a period; a period first seen now gets its attainment built from existing sales."""
    period = await uow.repo.by_id(Period, event.period_id)
    values = {
        "id": event.period_id,
        "org_id": event.org_id,
        "name": event.name,
        "starts_on": event.starts_on,
        "ends_on": event.ends_on,
        "timezone": event.timezone,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "seasonality": _seasonality(event.seasonality),
    }
    await _store_period(uow, period, values)


async def _store_period(
    uow: PerformanceUnitOfWork, period: Period | None, values: dict[str, object]
) -> None:
    if period is not None:
        if period.org_id != values["org_id"]:
            return
        bounds_changed = (period.starts_at, period.ends_at) != (
            values["starts_at"],
            values["ends_at"],
        )
        for name, value in values.items():
            setattr(period, name, value)
        uow.repo.add(period)
        if not bounds_changed:
            return
    else:
        period = Period.model_validate(values)
        uow.repo.add(period)
    await uow.repo.flush()
    await uow.repo.recompute_period(org_id=period.org_id, period=period)
    await rebuild_period_valuations(uow, period, utcnow())


async def on_target_assigned(
    event: TargetAssigned, envelope: Envelope, uow: PerformanceUnitOfWork
) -> None:
    """Learn a member's target (newer versions only); learn its period from it if needed."""
    period = await uow.repo.by_id(Period, event.period_id)
    if period is None:
        starts_at, ends_at = event.period_starts_at, event.period_ends_at
        await _store_period(
            uow,
            None,
            {
                "id": event.period_id,
                "org_id": event.org_id,
                "name": str(event.period_id),  # until period_defined names it
                "starts_on": starts_at.date(),
                "ends_on": ends_at.date(),
                "timezone": event.period_timezone,
                "starts_at": starts_at,
                "ends_at": ends_at,
                "seasonality": _seasonality(event.period_seasonality),
            },
        )
    await _upsert_target(
        uow,
        event=event,
        amount_minor=to_minor(event.amount, event.currency, limit=None),
    )


async def follow_target_changes(
    facts: Sequence[tuple[TargetChanged, Envelope]], uow: PerformanceUnitOfWork
) -> None:
    """Follow a run of targets' new amounts: one read of the targets, one insert per team."""
    known = await uow.repo.targets_by_ids(event.target_id for event, _ in facts)
    followed: dict[tuple[uuid.UUID, uuid.UUID, uuid.UUID], dict[uuid.UUID, None]] = {}
    for event, _ in facts:
        amount_minor = to_minor(event.new_amount, event.currency, limit=None)
        if _follow_target(uow, known, event=event, amount_minor=amount_minor):
            team = (event.org_id, event.team_id, event.period_id)
            followed.setdefault(team, {})[event.member_id] = None
    for (org_id, team_id, period_id), members in followed.items():
        await uow.repo.ensure_attainments(
            org_id=org_id, team_id=team_id, period_id=period_id, member_ids=list(members)
        )


@with_many(follow_target_changes)
async def on_target_changed(
    event: TargetChanged, envelope: Envelope, uow: PerformanceUnitOfWork
) -> None:
    """Follow a target's new amount; stale versions are ignored."""
    await follow_target_changes([(event, envelope)], uow)


async def _upsert_target(
    uow: PerformanceUnitOfWork, *, event: TargetAssigned | TargetChanged, amount_minor: int
) -> None:
    known = await uow.repo.targets_by_ids([event.target_id])
    if _follow_target(uow, known, event=event, amount_minor=amount_minor):
        await uow.repo.ensure_attainment(
            org_id=event.org_id,
            team_id=event.team_id,
            member_id=event.member_id,
            period_id=event.period_id,
        )


def _follow_target(
    uow: PerformanceUnitOfWork,
    known: dict[uuid.UUID, Target],
    *,
    event: TargetAssigned | TargetChanged,
    amount_minor: int,
) -> bool:
    """Stage a new target or a newer version of a known one; False when the fact is stale."""
    target = known.get(event.target_id)
    values = {
        "id": event.target_id,
        "org_id": event.org_id,
        "team_id": event.team_id,
        "member_id": event.member_id,
        "period_id": event.period_id,
        "amount_minor": amount_minor,
        "currency": event.currency,
        "version": event.version,
    }
    if target is None:
        target = known[event.target_id] = Target.model_validate(values)
    elif target.org_id == event.org_id and event.version > target.version:
        for name, value in values.items():
            setattr(target, name, value)
    else:
        return False
    uow.repo.add(target)
    return True


async def on_dispute_resolved(
    event: DisputeResolved, envelope: Envelope, uow: PerformanceUnitOfWork
) -> None:
    """Apply the decision's reassign_sale_credit actions (other actions are goals' business)."""
    now = datetime.now(UTC)
    for action in event.actions:
        if not isinstance(action, ReassignSaleCredit):
            continue
        try:
            moved = await reassign_credit(
                uow,
                org_id=event.org_id,
                sale_id=action.sale_id,
                to_member_id=action.to_member_id,
                percent=action.percent,
                now=now,
            )
        except InvalidInput as error:
            # A decision that cannot be applied is logged, not retried: retrying cannot help.
            log.warning("dispute %s: credit move refused: %s", event.dispute_id, error.detail)
            continue
        if not moved:
            log.warning("dispute %s: sale or member unknown: %s", event.dispute_id, action)


def _seasonality(weights: Mapping[int, object] | None) -> dict[str, str] | None:
    return {str(k): str(v) for k, v in weights.items()} if weights else None
