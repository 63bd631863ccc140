"""Absences, relief and late joiners: target that follows who is actually there.

Every amount moves through the ledger (reasons `relief` and `joiner`). The plan's total is the
individual targets plus its unassigned line; it changes only when the policy says so
(`absorb=nobody`, `fund_from=team_total`), and the ledger row of the rep says by how much.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from services.goals.adapters.orm import (
    Absence,
    ChangeRequest,
    Member,
    Period,
    Plan,
    ReliefPolicy,
    Target,
    Team,
)
from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from services.goals.domain.allocation import format_exact
from services.goals.domain.availability import (
    ABSENCE_KINDS,
    ABSORB_MODES,
    FUND_SOURCES,
    ReliefPlan,
    availability,
    clip,
    plan_relief,
    relief_minor,
    scaled_minor,
    take_from_others,
)
from services.goals.domain.change_requests import MANAGER_INCENTIVE
from services.goals.handlers.access import load_member, load_team
from services.goals.handlers.guard import lifts_team, open_request
from services.goals.handlers.ledger import (
    apply_new_targets,
    change_target,
    policy_for,
    positions_of,
)
from services.goals.handlers.plans import _assigned, _load_plan, period_days, ramp_of
from shared.auth import Principal
from shared.domain_errors import Conflict, InvalidInput, NotFound
from shared.events.goals import AbsenceCancelled, AbsenceRecorded
from shared.http import check_if_match
from shared.money import from_minor, to_minor
from shared.timeutil import utcnow

#: Longest absence accepted in one record (a year and a day covers any leave within a period).
MAX_ABSENCE_DAYS = 366


@dataclass(frozen=True, kw_only=True)
class RecordAbsence:
    """Record that a member is away for whole days."""

    member_id: uuid.UUID
    starts_on: date
    ends_on: date
    kind: str
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class PutReliefPolicy:
    """Set how a team relieves absent reps."""

    team_id: uuid.UUID
    min_days: int
    absorb: str
    if_match: str | None = None


@dataclass(frozen=True, kw_only=True)
class AddJoiner:
    """Give a member who joined after publishing a prorated, ramped target."""

    team_id: uuid.UUID
    period_id: uuid.UUID
    member_id: uuid.UUID
    fund_from: str


async def _relief_policy(uow: GoalsUnitOfWork, org: uuid.UUID, team_id: uuid.UUID) -> ReliefPolicy:
    row = await uow.repo.relief_policy_of(org_id=org, team_id=team_id)
    return row or ReliefPolicy.model_validate({"team_id": team_id, "org_id": org})


# ------------------------------------------------------------------------------ relief policy


async def get_relief_policy(
    team_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal
) -> ReliefPolicy:
    """A team's relief policy (the defaults when never set)."""
    async with uow:
        team = await load_team(uow, principal, team_id, write=False)
        return await _relief_policy(uow, principal.org, team.id)


async def put_relief_policy(
    cmd: PutReliefPolicy, *, uow: GoalsUnitOfWork, principal: Principal
) -> ReliefPolicy:
    """Set a team's relief policy (managers of the team, admins)."""
    if cmd.absorb not in ABSORB_MODES:
        raise InvalidInput(
            f"absorb must be one of {', '.join(sorted(ABSORB_MODES))}", field="absorb"
        )
    async with uow:
        team = await load_team(uow, principal, cmd.team_id, write=True)
        row = await uow.repo.relief_policy_of(org_id=principal.org, team_id=team.id)
        if row is None:
            row = ReliefPolicy.model_validate({"team_id": team.id, "org_id": principal.org})
        else:
            check_if_match(cmd.if_match, row.version)
            row.version += 1
        row.min_days, row.absorb, row.updated_at = cmd.min_days, cmd.absorb, utcnow()
        uow.repo.add(row)
        await uow.commit()
    return row


# ----------------------------------------------------------------------------------- absences


def _check_absence(cmd: RecordAbsence) -> None:
    if cmd.kind not in ABSENCE_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(sorted(ABSENCE_KINDS))}", field="kind")
    if cmd.ends_on < cmd.starts_on:
        raise InvalidInput("ends_on must not be before starts_on", field="ends_on")
    if (cmd.ends_on - cmd.starts_on).days + 1 > MAX_ABSENCE_DAYS:
        raise InvalidInput(
            f"an absence covers at most {MAX_ABSENCE_DAYS} days; record longer leave in parts",
            field="ends_on",
        )


async def record_absence(
    cmd: RecordAbsence, *, uow: GoalsUnitOfWork, principal: Principal
) -> tuple[Absence, str, list[HeldRelief]]:
    """Record an absence; a long enough one relieves the rep's open published targets.

    A relief that lifts the manager's team across 100 % waits for a senior approver instead.
    """
    _check_absence(cmd)
    async with uow:
        member, team = await load_member(uow, principal, cmd.member_id, write=True)
        if member.left_at is not None:
            raise Conflict("this member has left the team")
        earlier = await uow.repo.absences_of(org_id=principal.org, member_id=member.id)
        clash = [a for a in earlier if a.starts_on <= cmd.ends_on and cmd.starts_on <= a.ends_on]
        if clash:
            # Overlaps would relieve the same days twice; the manager edits one record instead.
            raise Conflict(
                "the absence overlaps another one of this member",
                absence_ids=[str(a.id) for a in clash],
            )
        absence = Absence.model_validate(
            {
                "org_id": principal.org,
                "team_id": team.id,
                "member_id": member.id,
                "starts_on": cmd.starts_on,
                "ends_on": cmd.ends_on,
                "kind": cmd.kind,
                "note": cmd.note,
                "created_by": principal.sub,
            }
        )
        policy = await _relief_policy(uow, principal.org, team.id)
        absence.reliefs, held = await _relieve(
            uow, principal, member, absence, earlier, policy, hold=True
        )
        uow.repo.add(absence)
        uow.emit(
            AbsenceRecorded(
                org_id=principal.org,
                team_id=team.id,
                absence_id=absence.id,
                member_id=member.id,
                starts_on=absence.starts_on,
                ends_on=absence.ends_on,
                kind=absence.kind,
            )
        )
        await uow.commit()
    return absence, team.currency, [held_relief(r) for r in held]


@dataclass(frozen=True)
class HeldRelief:
    """A relief that waits, as a pending change request, for a second (senior) approver."""

    change_request_id: uuid.UUID
    plan_id: uuid.UUID
    target_id: uuid.UUID
    relief_minor: int


def held_relief(row: ChangeRequest) -> HeldRelief:
    """What a pending relief request holds back."""
    return HeldRelief(
        change_request_id=row.id,
        plan_id=row.plan_id,
        target_id=row.target_id,
        relief_minor=row.old_minor - row.new_minor,
    )


async def _relieve(
    uow: GoalsUnitOfWork,
    principal: Principal,
    member: Member,
    absence: Absence,
    earlier: list[Absence],
    policy: ReliefPolicy,
    only: list[tuple[Target, Plan, Period]] | None = None,
    *,
    hold: bool = False,
) -> tuple[list[dict[str, Any]], list[ChangeRequest]]:
    """Relieve every open published target the absence touches (or only those).

    Returns what was applied and, with `hold`, the flagged reliefs of a non-admin held as
    pending change requests instead.
    """
    reliefs, held = [], []
    team_row = await uow.repo.get(Team, org_id=principal.org, id=member.team_id, what="team")
    if only is None:
        only = await uow.repo.open_targets_of_member(
            org_id=principal.org, member_id=member.id, now=utcnow()
        )
    for target, plan, _ in only:
        if plan.status != "published":
            continue
        found = await _relief_for(
            uow, principal, member, absence, earlier, policy.min_days, policy.absorb, target, plan
        )
        if found is None:
            continue
        targets, outcome = found
        lifted = await lifts_team(uow, team_row, plan, outcome.total_delta_minor)
        if lifted and hold and not principal.is_admin:
            # Like a flagged manual edit: the manager's entry is the first approval.
            held.append(
                open_request(
                    uow,
                    team=team_row,
                    plan=plan,
                    target=target,
                    new_minor=outcome.new_targets[member.id],
                    reason=_relief_note(
                        absence, policy.absorb, outcome.relief_minor, plan.currency
                    ),
                    requested_by=principal.sub,
                    flags=(MANAGER_INCENTIVE,),
                    origin="relief",
                    approvals=({"approver": principal.sub, "senior": False},),
                    team_total_changes=outcome.total_delta_minor != 0,
                    absence_id=absence.id,
                )
            )
            continue
        flag = MANAGER_INCENTIVE if lifted else None
        reliefs.append(
            _apply_relief(
                uow, principal, plan, target, targets, absence, policy.absorb, outcome, flag
            )
        )
    return reliefs, held


async def _relief_for(
    uow: GoalsUnitOfWork,
    principal: Principal,
    member: Member,
    absence: Absence,
    earlier: list[Absence],
    min_days: int,
    absorb: str,
    target: Target,
    plan: Plan,
) -> tuple[list[Target], ReliefPlan] | None:
    """The plan's targets and where the relief of one target goes (None: nothing to relieve)."""
    period = await uow.repo.get(Period, org_id=principal.org, id=plan.period_id, what="period")
    # Relief is a share of the target the rep would carry if present: earlier reliefs of
    # the same target are added back, so two absences relieve what one long one would.
    already = sum(
        r["relief_minor"]
        for a in earlier
        for r in a.reliefs
        if r.get("target_id") == str(target.id)
    )
    amount = relief_minor(
        target_minor=target.amount_minor + already,
        period=period_days(period),
        starts_on=absence.starts_on,
        ends_on=absence.ends_on,
        min_days=min_days,
    )
    if not amount:
        return None
    active = {
        m.id for m in await uow.repo.active_members(org_id=principal.org, team_id=member.team_id)
    }
    targets = await uow.repo.targets_of(org_id=principal.org, plan_id=plan.id)
    team = await positions_of(uow=uow, plan=plan, targets=targets, members=active)
    window = clip(absence.starts_on, absence.ends_on, period_days(period))
    absent = (
        await uow.repo.absent_between(
            org_id=principal.org,
            member_ids=list(active - {member.id}),
            starts_on=window[0],
            ends_on=window[1],
        )
        if window and absorb == "team"
        else set()
    )
    outcome = plan_relief(
        member_id=member.id,
        relief=amount,
        team=team,
        policy=await policy_for(uow=uow, org=principal.org, team_id=member.team_id),
        absorb=absorb,
        absent=absent,
    )
    return targets, outcome


def _apply_relief(
    uow: GoalsUnitOfWork,
    principal: Principal,
    plan: Plan,
    target: Target,
    targets: list[Target],
    absence: Absence,
    absorb: str,
    outcome: ReliefPlan,
    flag: str | None,
) -> dict[str, Any]:
    """Move the relief through the ledger and the plan's lines; return the absence's record of it."""
    apply_new_targets(
        uow=uow,
        plan=plan,
        targets=targets,
        new_targets=outcome.new_targets,
        reason="relief",
        actor=principal.sub,
        note=_relief_note(absence, absorb, outcome.relief_minor, plan.currency),
        flag=flag,
    )
    plan.target_minor += outcome.total_delta_minor
    plan.unassigned_minor += outcome.pooled_minor
    plan.version += 1
    plan.updated_at = utcnow()
    uow.repo.add(plan)
    return {
        "plan_id": str(plan.id),
        "period_id": str(plan.period_id),
        "target_id": str(target.id),
        "relief_minor": outcome.relief_minor,
        "absorb": absorb,
        "absorbed": {str(k): v for k, v in outcome.absorbed.items()},
        "pooled_minor": outcome.pooled_minor,
        "total_delta_minor": outcome.total_delta_minor,
    }


async def apply_held_relief(
    uow: GoalsUnitOfWork, principal: Principal, row: ChangeRequest, plan: Plan, target: Target
) -> None:
    """Apply the relief an approved request held, recomputed against the targets as they are now."""
    if row.absence_id is None:
        raise Conflict("this change request holds no relief")
    absence = await uow.repo.get(Absence, org_id=principal.org, id=row.absence_id, what="absence")
    member = await uow.repo.get(Member, org_id=principal.org, id=row.member_id, what="member")
    period = await uow.repo.get(Period, org_id=principal.org, id=plan.period_id, what="period")
    if period.ends_at <= utcnow():
        raise Conflict("the period has ended; refuse the request", reason="period_ended")
    others = [
        a
        for a in await uow.repo.absences_of(org_id=principal.org, member_id=member.id)
        if a.id != absence.id
    ]
    policy = await _relief_policy(uow, principal.org, row.team_id)
    # The approver approves the relief as it was held: one that lowered the total still does.
    absorb = "nobody" if row.team_total_changes else policy.absorb
    found = await _relief_for(
        uow, principal, member, absence, others, policy.min_days, absorb, target, plan
    )
    if found is None or found[1].new_targets.get(member.id) != row.new_minor:
        # The policy or the rep's earlier reliefs moved: the amount asked for is not the relief.
        raise Conflict(
            "the relief changed since the request; refuse it, or record the absence again",
            reason="target_changed",
            target_version=target.version,
        )
    targets, outcome = found
    done = _apply_relief(
        uow, principal, plan, target, targets, absence, absorb, outcome, MANAGER_INCENTIVE
    )
    absence.reliefs = [*absence.reliefs, done]
    uow.repo.add(absence)


async def relieve_on_publish(
    uow: GoalsUnitOfWork, principal: Principal, plan: Plan, period: Period
) -> None:
    """Apply the relief of absences recorded before a plan was published (once, at publish)."""
    if period.ends_at <= utcnow():
        return
    policy = await _relief_policy(uow, principal.org, plan.team_id)
    targets = await uow.repo.targets_of(org_id=principal.org, plan_id=plan.id)
    for member in await uow.repo.active_members(org_id=principal.org, team_id=plan.team_id):
        target = next((t for t in targets if t.member_id == member.id), None)
        absences = await uow.repo.absences_of(org_id=principal.org, member_id=member.id)
        if target is None or not absences:
            continue
        for i, absence in enumerate(absences):
            if any(r.get("plan_id") == str(plan.id) for r in absence.reliefs):
                continue
            # Targets reloaded by the repository are the same objects, so earlier reliefs of
            # this publish are seen by the next absence.
            done, _ = await _relieve(
                uow, principal, member, absence, absences[:i], policy, [(target, plan, period)]
            )
            if done:
                absence.reliefs = [*absence.reliefs, *done]
                uow.repo.add(absence)


def _relief_note(absence: Absence, absorb: str, amount: int, currency: str) -> str:
    where = {
        "nobody": "the team total is lowered by it",
        "team": (
            "the others present and not struggling absorb it within their caps "
            "(the rest goes to the unassigned line)"
        ),
        "pool": "it goes to the plan's unassigned line",
    }[absorb]
    return (
        f"{absence.kind} {absence.starts_on}..{absence.ends_on} relieves "
        f"{from_minor(amount, currency)}; {where}"
    )


async def list_absences(
    member_id: uuid.UUID,
    *,
    uow: GoalsUnitOfWork,
    principal: Principal,
    cursor: str | None,
    limit: int,
) -> tuple[list[Absence], str | None, str, dict[uuid.UUID, list[HeldRelief]]]:
    """A member's absences (the member, the team's managers, admins), the team currency, and
    the reliefs of each that wait for a second approver."""
    async with uow:
        _, team = await load_member(uow, principal, member_id, write=False)
        rows, nxt = await uow.repo.absences(
            org_id=principal.org, member_id=member_id, cursor=cursor, limit=limit
        )
        held: dict[uuid.UUID, list[HeldRelief]] = {}
        for r in await uow.repo.pending_reliefs(
            org_id=principal.org, absence_ids=[a.id for a in rows]
        ):
            if r.absence_id is not None:
                held.setdefault(r.absence_id, []).append(held_relief(r))
        return rows, nxt, team.currency, held


async def cancel_absence(
    absence_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal
) -> None:
    """Cancel an absence before it starts; its relief goes back where it came from."""
    async with uow:
        absence = await uow.repo.get(Absence, org_id=principal.org, id=absence_id, what="absence")
        member, team = await load_member(uow, principal, absence.member_id, write=True)
        if absence.starts_on <= utcnow().date():
            raise Conflict("an absence that has started cannot be cancelled")
        active = {
            m.id for m in await uow.repo.active_members(org_id=principal.org, team_id=team.id)
        }
        for relief in absence.reliefs:
            plan = await uow.repo.get(
                Plan, org_id=principal.org, id=uuid.UUID(relief["plan_id"]), what="plan"
            )
            targets = await uow.repo.targets_of(org_id=principal.org, plan_id=plan.id)
            _undo_relief(uow, principal, plan, targets, relief, active, absence)
        # A relief still waiting for its second approver has nothing left to relieve.
        for request in await uow.repo.pending_reliefs(
            org_id=principal.org, absence_ids=[absence.id]
        ):
            request.state, request.rationale = "withdrawn", "the absence was cancelled"
            request.decided_by, request.decided_at = principal.sub, utcnow()
            request.version += 1
            uow.repo.add(request)
        await uow.repo.delete(absence)
        uow.emit(
            AbsenceCancelled(
                org_id=principal.org,
                team_id=team.id,
                absence_id=absence.id,
                member_id=member.id,
            )
        )
        await uow.commit()


def _undo_relief(
    uow: GoalsUnitOfWork,
    principal: Principal,
    plan: Plan,
    targets: list[Target],
    relief: dict[str, Any],
    active: set[uuid.UUID],
    absence: Absence,
) -> None:
    """Give a relief back to its rep, taking it from where it went as far as it is still there."""
    by_member = {t.member_id: t for t in targets}
    amount = relief["relief_minor"]
    new_targets: dict[object, int] = {}
    rep = by_member.get(absence.member_id)
    if rep is None:
        return
    new_targets[rep.member_id] = rep.amount_minor + amount
    returned = 0
    for member_id, taken in relief["absorbed"].items():
        holder = by_member.get(uuid.UUID(member_id))
        if holder is None or holder.member_id not in active:
            continue
        back = min(taken, holder.amount_minor)
        new_targets[holder.member_id] = holder.amount_minor - back
        returned += back
    from_pool = min(relief["pooled_minor"], plan.unassigned_minor)
    apply_new_targets(
        uow=uow,
        plan=plan,
        targets=targets,
        new_targets=new_targets,
        reason="relief",
        actor=principal.sub,
        note=f"absence {absence.starts_on}..{absence.ends_on} cancelled: relief undone",
    )
    plan.unassigned_minor -= from_pool
    # Whatever could not be taken back (the pool was allocated since, a holder left) raises
    # the total, exactly as the ledger rows show: the plan still adds up.
    plan.target_minor += amount - returned - from_pool
    plan.version += 1
    plan.updated_at = utcnow()
    uow.repo.add(plan)


# ------------------------------------------------------------------------------------ joiners


@dataclass(frozen=True)
class JoinerResult:
    """The new target of a late joiner and the targets that funded it."""

    plan: Plan
    target: Target
    changed_targets: list[uuid.UUID]


async def add_joiner(cmd: AddJoiner, *, uow: GoalsUnitOfWork, principal: Principal) -> JoinerResult:
    """Give a member who joined after publishing a target prorated from starts_on, ramped."""
    if cmd.fund_from not in FUND_SOURCES:
        raise InvalidInput(
            f"fund_from must be one of {', '.join(sorted(FUND_SOURCES))}", field="fund_from"
        )
    async with uow:
        team, period, plan = await _load_plan(
            uow, principal, cmd.team_id, cmd.period_id, write=True
        )
        if plan.status != "published":
            raise Conflict("the plan is not published yet; allocate it with the new member")
        if period.ends_at <= utcnow():
            raise Conflict("the period has ended")
        member = await uow.repo.get(Member, org_id=principal.org, id=cmd.member_id, what="member")
        if member.team_id != team.id:
            raise NotFound(f"member {cmd.member_id} is not on team {team.id}")
        if member.left_at is not None:
            raise Conflict("this member has left the team")
        targets = await uow.repo.targets_of(org_id=principal.org, plan_id=plan.id)
        if any(t.member_id == member.id for t in targets):
            raise Conflict("this member already has a target in the plan")
        active = {
            m.id: m for m in await uow.repo.active_members(org_id=principal.org, team_id=team.id)
        }
        holders = [t for t in targets if t.member_id in active]
        fte = sum((Fraction(Decimal(active[t.member_id].capacity)) for t in holders), Fraction(0))
        if not holders or not fte:
            raise Conflict("nobody in the plan carries a target to measure a full share by")
        ramp = ramp_of(member)
        days = period_days(period)
        available = availability(days, ramp=ramp)
        # A full-period share is the plan's target per FTE of its current holders.
        share = Fraction(plan.target_minor) * Fraction(Decimal(member.capacity)) / fte
        amount = scaled_minor(1, share * available)
        changed = await _fund(uow, principal, plan, targets, active, member, amount, cmd.fund_from)
        target = Target.model_validate(
            {
                "org_id": plan.org_id,
                "plan_id": plan.id,
                "team_id": plan.team_id,
                "period_id": plan.period_id,
                "member_id": member.id,
                "amount_minor": 0,
                "original_minor": 0,
                "currency": plan.currency,
                "version": 0,
                "derivation": {
                    "method": "joiner",
                    "inputs": {
                        "starts_on": member.starts_on.isoformat() if member.starts_on else None,
                        "capacity": member.capacity,
                        "ramp": member.ramp,
                        "ramp_schedule": member.ramp_schedule,
                        "holders_fte": format_exact(fte),
                        "fund_from": cmd.fund_from,
                    },
                    "weight": format_exact(Fraction(Decimal(member.capacity))),
                    "share": format_exact(available),
                    "pool_minor": plan.target_minor,
                    "raw_minor": format_exact(share * available),
                    "rounding_adjustment_minor": 0,
                    "overridden": False,
                },
            }
        )
        change_target(
            uow=uow, plan=plan, target=target, new_minor=amount, reason="joiner",
            actor=principal.sub, note=f"late joiner, funded from {cmd.fund_from}",
        )  # fmt: skip
        # The joiner's own amount is the base of their rebalance cap, as at publish for others.
        target.original_minor = amount
        uow.repo.add(target)
        plan.version += 1
        plan.updated_at = utcnow()
        uow.repo.add(plan)
        uow.emit(_assigned(target, plan, period))
        await uow.commit()
    return JoinerResult(plan=plan, target=target, changed_targets=changed)


async def _fund(
    uow: GoalsUnitOfWork,
    principal: Principal,
    plan: Plan,
    targets: list[Target],
    active: dict[uuid.UUID, Member],
    member: Member,
    amount: int,
    fund_from: str,
) -> list[uuid.UUID]:
    """Find the joiner's amount: a higher total, the others' targets, or the unassigned line."""
    if fund_from == "team_total":
        plan.target_minor += amount
        return []
    if fund_from == "pool":
        if plan.unassigned_minor < amount:
            raise Conflict(
                f"the unassigned line holds {from_minor(plan.unassigned_minor, plan.currency)}, "
                f"less than the joiner's {from_minor(amount, plan.currency)}",
                unassigned=str(from_minor(plan.unassigned_minor, plan.currency)),
            )
        plan.unassigned_minor -= amount
        return []
    holders = [t for t in targets if t.member_id in active]
    team = await positions_of(uow=uow, plan=plan, targets=holders, members=set(active))
    taken = take_from_others(amount_minor=amount, team=team, exclude=member.id)
    current: dict[object, int] = {t.member_id: t.amount_minor for t in holders}
    new_targets: dict[object, int] = {k: current[k] - v for k, v in taken.items()}
    return apply_new_targets(
        uow=uow,
        plan=plan,
        targets=holders,
        new_targets=new_targets,
        reason="joiner",
        actor=principal.sub,
        note=f"funds the target of late joiner {member.name}",
    )


@dataclass(frozen=True, kw_only=True)
class AssignUnassigned:
    """Move part of the plan's unassigned line onto one member's target."""

    team_id: uuid.UUID
    period_id: uuid.UUID
    member_id: uuid.UUID
    amount: Decimal


async def assign_unassigned(
    cmd: AssignUnassigned, *, uow: GoalsUnitOfWork, principal: Principal
) -> tuple[Plan, Target]:
    """A manager hands target from the unassigned line to a rep; the total stays."""
    async with uow:
        team, _, plan = await _load_plan(uow, principal, cmd.team_id, cmd.period_id, write=True)
        amount = to_minor(cmd.amount, team.currency, field="amount")
        if amount <= 0:
            raise InvalidInput("amount must be positive", field="amount")
        if amount > plan.unassigned_minor:
            raise Conflict(
                f"the unassigned line holds {from_minor(plan.unassigned_minor, plan.currency)}",
                unassigned=str(from_minor(plan.unassigned_minor, plan.currency)),
            )
        targets = await uow.repo.targets_of(org_id=principal.org, plan_id=plan.id)
        active = {
            m.id for m in await uow.repo.active_members(org_id=principal.org, team_id=team.id)
        }
        target = next((t for t in targets if t.member_id == cmd.member_id), None)
        if target is None or cmd.member_id not in active:
            raise NotFound(f"member {cmd.member_id} has no target in this plan")
        change_target(
            uow=uow, plan=plan, target=target, new_minor=target.amount_minor + amount,
            reason="manual", actor=principal.sub, note="assigned from the unassigned line",
        )  # fmt: skip
        plan.unassigned_minor -= amount
        plan.version += 1
        plan.updated_at = utcnow()
        uow.repo.add(plan)
        await uow.commit()
    return plan, target
