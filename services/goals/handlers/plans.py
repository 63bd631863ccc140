"""Plan use cases: a team's target for a period, its allocation over members, publication."""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from services.goals.adapters.orm import Member, Period, Plan, Target, Team
from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from services.goals.domain.allocation import AllocationParams, MemberInput, allocate
from services.goals.domain.availability import PeriodDays, Ramp, availability, check_ramp_schedule
from services.goals.domain.hierarchy import (
    ChildTeam,
    check_over_assignment,
    child_inputs,
    history_by_period,
    over_assigned_minor,
)
from services.goals.handlers.access import load_team
from services.goals.handlers.ledger import change_target
from services.goals.handlers.periods import seasonality_of
from shared.auth import Principal
from shared.domain_errors import Conflict, InvalidInput, NotFound
from shared.events.goals import PlannedTarget, PlanPublished, TargetAssigned
from shared.http import check_if_match
from shared.money import from_minor, to_minor
from shared.timeutil import utcnow


@dataclass(frozen=True, kw_only=True)
class PutPlan:
    """Create or update a team's plan for a period."""

    team_id: uuid.UUID
    period_id: uuid.UUID
    target: Decimal
    strategy: dict[str, Any]
    measures: list[str]
    over_assignment_pct: Decimal = Decimal(0)
    if_match: str | None = None


@dataclass(frozen=True, kw_only=True)
class AllocatePlan:
    """Break a plan's target down over the team's active members by a method."""

    team_id: uuid.UUID
    period_id: uuid.UUID
    method: str
    periods: int
    alpha: Decimal
    overrides: Mapping[uuid.UUID, Decimal] = field(default_factory=dict)
    dry_run: bool = False


@dataclass(frozen=True, kw_only=True)
class PublishPlan:
    """Publish a draft plan."""

    team_id: uuid.UUID
    period_id: uuid.UUID
    if_match: str | None = None


@dataclass(frozen=True)
class PlanView:
    """A plan with its targets and the members still on the team."""

    plan: Plan
    targets: list[Target]
    active: set[uuid.UUID]


def period_days(period: Period) -> PeriodDays:
    """The day model of a stored period."""
    return PeriodDays(period.starts_on, period.ends_on, seasonality_of(period))


def ramp_of(member: Member) -> Ramp:
    """A member's ramp: the schedule from starts_on when set, else the scalar factor."""
    schedule = check_ramp_schedule([Decimal(v) for v in member.ramp_schedule or []])
    if not schedule:
        return Ramp(starts_on=member.starts_on, scalar=Fraction(Decimal(member.ramp)))
    return Ramp(starts_on=member.starts_on, schedule=schedule)


def allocation_ramp(member: Member, period: Period) -> Decimal | Fraction:
    """The ramp factor capacity weighs with: the scalar, or the schedule over the period."""
    if not member.ramp_schedule:
        return Decimal(member.ramp)
    # The schedule's steps weighted by the period's seasonality, from starts_on: a rep ramping
    # through the busy months carries more than one ramping through the quiet ones.
    return availability(period_days(period), ramp=ramp_of(member))


async def _plan_view(uow: GoalsUnitOfWork, plan: Plan) -> PlanView:
    targets = await uow.repo.targets_of(org_id=plan.org_id, plan_id=plan.id)
    active = {m.id for m in await uow.repo.active_members(org_id=plan.org_id, team_id=plan.team_id)}
    return PlanView(plan=plan, targets=targets, active=active)


async def _load_plan(
    uow: GoalsUnitOfWork,
    principal: Principal,
    team_id: uuid.UUID,
    period_id: uuid.UUID,
    *,
    write: bool,
) -> tuple[Team, Period, Plan]:
    team = await load_team(uow, principal, team_id, write=write)
    period = await uow.repo.get(Period, org_id=principal.org, id=period_id, what="period")
    plan = await uow.repo.plan_of(org_id=principal.org, team_id=team.id, period_id=period.id)
    if plan is None:
        raise NotFound(f"team {team_id} has no plan for period {period_id}")
    return team, period, plan


async def put_plan(
    cmd: PutPlan, *, uow: GoalsUnitOfWork, principal: Principal
) -> tuple[PlanView, bool]:
    """Create or update a team's plan for a period; True when created."""
    async with uow:
        team = await load_team(uow, principal, cmd.team_id, write=True)
        period = await uow.repo.get(Period, org_id=principal.org, id=cmd.period_id, what="period")
        target = to_minor(cmd.target, team.currency, field="target")
        check_over_assignment(cmd.over_assignment_pct)
        pct = str(cmd.over_assignment_pct)
        plan = await uow.repo.plan_of(org_id=principal.org, team_id=team.id, period_id=period.id)
        created = plan is None
        if plan is None:
            plan = Plan.model_validate(
                {
                    "strategy": cmd.strategy,
                    "measures": cmd.measures,
                    "org_id": principal.org,
                    "team_id": team.id,
                    "period_id": period.id,
                    "target_minor": target,
                    "currency": team.currency,
                    "over_assignment_pct": pct,
                }
            )
        else:
            check_if_match(cmd.if_match, plan.version)
            if plan.target_minor != target:
                if plan.status == "published":
                    raise Conflict(
                        "a published plan's target changes only through target edits with "
                        "team_total_changes=true or dispute outcomes"
                    )
                # The stored split no longer adds up: a new allocation is needed before publish.
                plan.method, plan.params = None, None
            plan.target_minor = target
            plan.over_assignment_pct = pct
            plan.strategy, plan.measures = cmd.strategy, cmd.measures
            plan.version += 1
            plan.updated_at = utcnow()
        uow.repo.add(plan)
        await uow.commit()
    async with uow:
        return await _plan_view(uow, plan), created


async def get_plan(
    team_id: uuid.UUID, period_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal
) -> PlanView:
    """A plan with every target, its derivation and acknowledgements."""
    async with uow:
        _, _, plan = await _load_plan(uow, principal, team_id, period_id, write=False)
        return await _plan_view(uow, plan)


@dataclass(frozen=True)
class AllocatedShare:
    """One member's share of an allocation (target_id None: a dry run for a new member)."""

    member_id: uuid.UUID
    target_id: uuid.UUID | None
    amount: Decimal
    derivation: dict[str, Any]


@dataclass(frozen=True)
class AllocationResult:
    """The targets an allocation produced (stored unless a dry run)."""

    plan: Plan
    method: str
    dry_run: bool
    rows: list[AllocatedShare]
    # A parent team's split over its child teams (child team id, child plan id, amount, why).
    teams: list[tuple[uuid.UUID, uuid.UUID | None, Decimal, dict[str, Any]]] = field(
        default_factory=list
    )
    over_assigned: Decimal | None = None


async def allocate_plan(
    cmd: AllocatePlan, *, uow: GoalsUnitOfWork, principal: Principal
) -> AllocationResult:
    """Break the plan target down over the active members; store it unless dry_run."""
    async with uow:
        team, period, plan = await _load_plan(
            uow, principal, cmd.team_id, cmd.period_id, write=True
        )
        if plan.status == "published" and not cmd.dry_run:
            raise Conflict(
                "the plan is published; change individual targets instead of re-allocating"
            )
        children = await uow.repo.child_teams(org_id=principal.org, team_id=team.id)
        if children:
            return await _allocate_children(cmd, uow, principal, team, period, plan, children)
        members = await uow.repo.active_members(org_id=principal.org, team_id=team.id)
        if not members:
            raise Conflict("the team has no active members to allocate to")
        ids = {m.id for m in members}
        overrides: dict[Hashable, int] = {
            k: to_minor(v, team.currency, field=f"overrides.{k}") for k, v in cmd.overrides.items()
        }
        unknown = [str(k) for k in overrides if k not in ids]
        if unknown:
            raise InvalidInput("overrides name members not on the team", members=unknown)
        history = await uow.repo.history_of(
            org_id=principal.org, member_ids=list(ids), before=period.starts_on
        )
        inputs = [
            MemberInput(
                member_id=m.id,
                capacity=Decimal(m.capacity),
                ramp=allocation_ramp(m, period),
                history=tuple(r.achieved_minor for r in history[m.id]),
            )
            for m in members
        ]
        params = AllocationParams(periods=cmd.periods, alpha=cmd.alpha)
        allocation = allocate(
            total_minor=plan.target_minor,
            method=cmd.method,
            members=inputs,
            params=params,
            overrides=overrides,
        )
        existing = {
            t.member_id: t for t in await uow.repo.targets_of(org_id=principal.org, plan_id=plan.id)
        }
        rows = []
        for member in members:
            amount = allocation.targets[member.id]
            derivation = allocation.derivations[member.id].to_json()
            target = existing.get(member.id)
            if not cmd.dry_run:
                target = _store_allocated(
                    uow, plan, target, member.id, amount, derivation, principal
                )
            rows.append(
                AllocatedShare(
                    member_id=member.id,
                    target_id=target.id if target else None,
                    amount=from_minor(amount, team.currency),
                    derivation=derivation,
                )
            )
        if not cmd.dry_run:
            # Members who left keep their (historic) target row but take no part in a new split.
            for member_id, target in existing.items():
                if member_id not in ids and target.amount_minor:
                    change_target(
                        uow=uow, plan=plan, target=target, new_minor=0, reason="allocation",
                        actor=principal.sub, note="not on the team at allocation",
                    )  # fmt: skip
            plan.method = allocation.method.value
            plan.params = {"periods": params.periods, "alpha": str(params.alpha)}
            plan.version += 1
            plan.updated_at = utcnow()
            uow.repo.add(plan)
            await uow.commit()
    return AllocationResult(plan=plan, method=cmd.method, dry_run=cmd.dry_run, rows=rows)


async def _allocate_children(
    cmd: AllocatePlan,
    uow: GoalsUnitOfWork,
    principal: Principal,
    team: Team,
    period: Period,
    plan: Plan,
    children: list[Team],
) -> AllocationResult:
    """Split a parent team's target over its child teams and set each child plan's target."""
    total = over_assigned_minor(plan.target_minor, Decimal(plan.over_assignment_pct))
    ids = {c.id for c in children}
    overrides: dict[Hashable, int] = {
        k: to_minor(v, team.currency, field=f"overrides.{k}") for k, v in cmd.overrides.items()
    }
    unknown = [str(k) for k in overrides if k not in ids]
    if unknown:
        raise InvalidInput("overrides name teams that are not under this team", teams=unknown)
    inputs = []
    for child in children:
        members = await uow.repo.active_members(org_id=principal.org, team_id=child.id)
        history = await uow.repo.history_of(
            org_id=principal.org, member_ids=[m.id for m in members], before=period.starts_on
        )
        capacity = sum(
            (Fraction(Decimal(m.capacity)) * Fraction(allocation_ramp(m, period)) for m in members),
            Fraction(0),
        )
        results = [
            ((r.starts_on, r.ends_on), r.achieved_minor) for rows in history.values() for r in rows
        ]
        inputs.append(
            ChildTeam(team_id=child.id, capacity=capacity, history=history_by_period(results))
        )
    params = AllocationParams(periods=cmd.periods, alpha=cmd.alpha)
    allocation = allocate(
        total_minor=total,
        method=cmd.method,
        members=child_inputs(inputs),
        params=params,
        overrides=overrides,
    )
    teams = []
    for child in children:
        amount = allocation.targets[child.id]
        derivation = allocation.derivations[child.id].to_json()
        child_plan = await uow.repo.plan_of(
            org_id=principal.org, team_id=child.id, period_id=period.id
        )
        if not cmd.dry_run:
            child_plan = _set_child_target(uow, child, period, child_plan, amount)
        teams.append(
            (
                child.id,
                child_plan.id if child_plan else None,
                from_minor(amount, team.currency),
                derivation,
            )
        )
    if not cmd.dry_run:
        plan.method = allocation.method.value
        plan.params = {"periods": params.periods, "alpha": str(params.alpha), "children": True}
        plan.version += 1
        plan.updated_at = utcnow()
        uow.repo.add(plan)
        await uow.commit()
    return AllocationResult(
        plan=plan,
        method=cmd.method,
        dry_run=cmd.dry_run,
        rows=[],
        teams=teams,
        over_assigned=from_minor(total, team.currency),
    )


def _set_child_target(
    uow: GoalsUnitOfWork, child: Team, period: Period, plan: Plan | None, amount: int
) -> Plan:
    """Create the child's draft plan with the amount, or move a draft plan's target to it."""
    if plan is None:
        plan = Plan.model_validate(
            {
                "org_id": child.org_id,
                "team_id": child.id,
                "period_id": period.id,
                "target_minor": amount,
                "currency": child.currency,
            }
        )
    elif plan.target_minor != amount:
        if plan.status == "published":
            # A published child keeps its exact split; its total moves only by audited edits.
            raise Conflict(
                f"the plan of child team {child.id} is published; its target cannot be re-set",
                team_id=str(child.id),
            )
        plan.target_minor = amount
        # Its old split no longer adds up: the child allocates again before publishing.
        plan.method, plan.params = None, None
        plan.version += 1
        plan.updated_at = utcnow()
    uow.repo.add(plan)
    return plan


def _store_allocated(
    uow: GoalsUnitOfWork,
    plan: Plan,
    target: Target | None,
    member_id: uuid.UUID,
    amount: int,
    derivation: dict[str, Any],
    principal: Principal,
) -> Target:
    if target is None:
        target = Target.model_validate(
            {
                "org_id": plan.org_id,
                "plan_id": plan.id,
                "team_id": plan.team_id,
                "period_id": plan.period_id,
                "member_id": member_id,
                "amount_minor": 0,
                "original_minor": 0,
                "currency": plan.currency,
                "derivation": derivation,
                "version": 0,
            }
        )
    else:
        target.derivation = derivation
        if target.amount_minor == amount:
            uow.repo.add(target)
            return target
    change_target(
        uow=uow, plan=plan, target=target, new_minor=amount, reason="allocation",
        actor=principal.sub,
    )  # fmt: skip
    return target


async def publish_plan(cmd: PublishPlan, *, uow: GoalsUnitOfWork, principal: Principal) -> PlanView:
    """Publish a draft plan: every member is told their target."""
    async with uow:
        team, period, plan = await _load_plan(
            uow, principal, cmd.team_id, cmd.period_id, write=True
        )
        check_if_match(cmd.if_match, plan.version)
        if plan.status == "published":
            raise Conflict("the plan is already published")
        if plan.method is None:
            raise Conflict("allocate the plan target before publishing it")
        view = await _plan_view(uow, plan)
        targets = [t for t in view.targets if t.member_id in view.active]
        if sum(t.amount_minor for t in view.targets) != plan.target_minor:
            raise Conflict("the individual targets do not add up to the plan target; re-allocate")
        plan.status = "published"
        plan.published_at = utcnow()
        plan.version += 1
        uow.repo.add(plan)
        for t in view.targets:
            t.original_minor = t.amount_minor
            uow.repo.add(t)
        uow.emit(
            PlanPublished(
                org_id=plan.org_id,
                team_id=team.id,
                plan_id=plan.id,
                period_id=period.id,
                target=from_minor(plan.target_minor, plan.currency),
                currency=plan.currency,
                method=plan.method,
                version=plan.version,
                targets=[
                    PlannedTarget(
                        target_id=t.id,
                        member_id=t.member_id,
                        amount=from_minor(t.amount_minor, t.currency),
                    )
                    for t in targets
                ],
            )
        )
        for t in targets:
            uow.emit(_assigned(t, plan, period))
        # Imported here: relief builds on this module's helpers (a cycle at import time).
        from services.goals.handlers.relief import relieve_on_publish

        await relieve_on_publish(uow, principal, plan, period)
        await uow.commit()
    return view


def _assigned(target: Target, plan: Plan, period: Period) -> TargetAssigned:
    return TargetAssigned(
        org_id=plan.org_id,
        team_id=plan.team_id,
        target_id=target.id,
        member_id=target.member_id,
        period_id=period.id,
        amount=from_minor(target.amount_minor, target.currency),
        currency=target.currency,
        version=target.version,
        period_starts_at=period.starts_at,
        period_ends_at=period.ends_at,
        period_timezone=period.timezone,
        period_seasonality=seasonality_of(period),
    )
