"""Every target change goes through here: a ledger row, a version bump, and (after publish) an event."""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Iterable
from decimal import Decimal
from typing import Protocol

from services.goals.adapters.orm import MemberStanding, Plan, Target, TargetChange
from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from services.goals.domain.rebalancing import MemberPosition, RebalancePolicy
from shared.events.goals import TargetChanged
from shared.money import from_minor
from shared.timeutil import utcnow


def change_target(
    *,
    uow: GoalsUnitOfWork,
    plan: Plan,
    target: Target,
    new_minor: int,
    reason: str,
    actor: str | None = None,
    source_event_id: str | None = None,
    note: str | None = None,
    flag: str | None = None,
) -> None:
    """Move a target to a new amount with its ledger row; published plans also emit TargetChanged.

    Any change clears the rep's acknowledgement (whatever path made it): they see what changed
    since `acknowledged_version` and acknowledge again.
    """
    old = target.amount_minor
    target.amount_minor = new_minor
    target.version += 1
    target.updated_at = utcnow()
    target.acknowledged_at = None
    uow.repo.add(target)
    uow.repo.add(
        TargetChange.model_validate(
            {
                "org_id": target.org_id,
                "target_id": target.id,
                "version": target.version,
                "old_minor": old,
                "new_minor": new_minor,
                "delta_minor": new_minor - old,
                "reason": reason,
                "note": note,
                "actor": actor,
                "source_event_id": source_event_id,
                "flag": flag,
            }
        )
    )
    if plan.status == "published":
        uow.emit(
            TargetChanged(
                org_id=target.org_id,
                team_id=target.team_id,
                target_id=target.id,
                member_id=target.member_id,
                period_id=target.period_id,
                old_amount=from_minor(old, target.currency),
                new_amount=from_minor(new_minor, target.currency),
                currency=target.currency,
                version=target.version,
                reason=reason,
                source_event_id=source_event_id,
            )
        )


class AmountsByMember(Protocol):
    """New amounts keyed by member id, however the domain typed its opaque ids."""

    def get(self, member_id: uuid.UUID, /) -> int | None: ...


def member_uuid(member_id: Hashable) -> uuid.UUID:
    """A member id back from the domain (which keeps ids opaque) as the UUID it was given."""
    if not isinstance(member_id, uuid.UUID):
        raise TypeError(f"a member id is a UUID, not {member_id!r}")
    return member_id


def apply_new_targets(
    *,
    uow: GoalsUnitOfWork,
    plan: Plan,
    targets: Iterable[Target],
    new_targets: AmountsByMember,
    reason: str,
    actor: str | None = None,
    source_event_id: str | None = None,
    note: str | None = None,
    flag: str | None = None,
) -> list[uuid.UUID]:
    """Apply a plan's new amounts by member id; return the ids of the targets that changed."""
    changed = []
    for target in targets:
        new = new_targets.get(target.member_id)
        if new is None or new == target.amount_minor:
            continue
        change_target(
            uow=uow,
            plan=plan,
            target=target,
            new_minor=new,
            reason=reason,
            actor=actor,
            source_event_id=source_event_id,
            note=note,
            flag=flag,
        )
        changed.append(target.id)
    return changed


async def positions_of(
    *, uow: GoalsUnitOfWork, plan: Plan, targets: Iterable[Target], members: set[uuid.UUID]
) -> list[MemberPosition]:
    """Team positions for the maths: current targets plus the latest standing performance reported.

    A member performance has not reported on yet counts as nothing sold, projected on target.
    """
    mine = [t for t in targets if t.member_id in members]
    standings: dict[uuid.UUID, MemberStanding] = await uow.repo.standings(
        org_id=plan.org_id, period_id=plan.period_id, member_ids=[t.member_id for t in mine]
    )
    positions = []
    for t in mine:
        s = standings.get(t.member_id)
        positions.append(
            MemberPosition(
                member_id=t.member_id,
                target_minor=t.amount_minor,
                original_target_minor=t.original_minor,
                achieved_minor=s.achieved_minor if s else 0,
                projected_minor=s.projected_minor if s else t.amount_minor,
                status=s.status if s else "on_track",
            )
        )
    return positions


async def policy_for(
    *, uow: GoalsUnitOfWork, org: uuid.UUID, team_id: uuid.UUID
) -> RebalancePolicy:
    """A team's rebalance policy as the maths takes it (the defaults when never set)."""
    row = await uow.repo.policy_of(org_id=org, team_id=team_id)
    if row is None:
        return RebalancePolicy()
    return RebalancePolicy(
        mode=row.mode,
        max_increase_pct=Decimal(row.max_increase_pct),
        cooldown_hours=row.cooldown_hours,
        freeze_days_before_end=row.freeze_days_before_end,
        max_decrease_pct=Decimal(row.max_decrease_pct),
        give_back=row.give_back,
        require_checkin_before_rebalance=row.require_checkin_before_rebalance,
        offer_hours=row.offer_hours,
    )
